// IronicApiProxy: the lab host's TCP proxy (./apiProxy.ts) as a lab container,
// run by the lab host's docker daemon with the ironic image's python.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { labContainer } from "../fleet/containerCommand";
import { labLabels, stackLabel } from "../fleet/containers";
import { childName, typeToken } from "../naming";
import {
    API_PROXY_CONF_PATH,
    API_PROXY_PYTHON,
    API_PROXY_SCRIPT_PATH,
    API_PROXY_WAIT_SECONDS,
    apiProxyHealthCmd,
    apiProxyScript,
    ironicApiProxyPlan,
    ironicApiProxyUrl,
    renderApiProxyConfig,
} from "./apiProxy";

export interface IronicApiProxyArgs {
    readonly config: LabConfig;
    /** An image with python3.12 as the lab host's daemon pulls it (LocalRegistry.loopbackImages.ironic). */
    readonly image: pulumi.Input<string>;
    /** Every conductor's API endpoint (IronicCluster.endpoints). */
    readonly conductorEndpoints: readonly string[];
}

export class IronicApiProxy extends pulumi.ComponentResource {
    /** https://<dockerHosts[0].address>:<ironicApi>: the Ironic API for fleets on remote docker hosts. */
    public readonly url: string;
    public readonly container: command.local.Command;

    constructor(name: string, args: IronicApiProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("ironic", "IronicApiProxy"), name, {}, opts);
        const cfg = args.config;
        const plan = ironicApiProxyPlan(cfg, args.conductorEndpoints);
        this.container = labContainer(
            childName(name, "container"),
            {
                spec: {
                    name: plan.containerName,
                    image: args.image,
                    labels: labLabels(cfg, "ironic-api-proxy", plan.dockerHost),
                    ownerLabel: stackLabel(cfg),
                    entrypoint: API_PROXY_PYTHON,
                    args: [API_PROXY_SCRIPT_PATH, API_PROXY_CONF_PATH],
                    files: [
                        { path: API_PROXY_CONF_PATH, mode: "0644", source: { stdin: true } },
                        { path: API_PROXY_SCRIPT_PATH, mode: "0644", source: { env: "LAB_PROXY_SCRIPT" } },
                    ],
                    run: { kind: "service", healthCmd: apiProxyHealthCmd(plan.listen), waitSeconds: API_PROXY_WAIT_SECONDS },
                },
                dockerHostUrl: plan.dockerHost.url,
                fileContents: { [API_PROXY_CONF_PATH]: renderApiProxyConfig(plan), [API_PROXY_SCRIPT_PATH]: apiProxyScript() },
            },
            { parent: this },
        );
        this.url = ironicApiProxyUrl(cfg);
        this.registerOutputs({ url: this.url });
    }
}
