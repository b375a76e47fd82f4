// One docker provider per configured docker daemon: the scale-out path, where
// sushy-tools and fake-ipa containers spread over several machines.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { childName, typeToken } from "../naming";

export interface DockerHostsArgs {
    readonly config: LabConfig;
}

export class DockerHosts extends pulumi.ComponentResource {
    /** In config.dockerHosts order: container i of a fleet uses providers[i % providers.length]. */
    public readonly providers: docker.Provider[];

    constructor(name: string, args: DockerHostsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("fleet", "DockerHosts"), name, {}, opts);
        // Named by the host's name, not its position: reordering or adding hosts keeps each provider.
        this.providers = args.config.dockerHosts.map((h) => new docker.Provider(childName(name, h.name), { host: h.url }, { parent: this }));
        this.registerOutputs({});
    }
}
