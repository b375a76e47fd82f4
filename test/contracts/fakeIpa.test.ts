// Contract: what our fake-ipa rendering relies on in metal3-io/utility-images
// (fake-ipa/, "UI") at ff1d62ee, the commit the pinned image
// fake-ipa:main_2026-04-02_ff1d62ee3d668bca4492deb10dcde652e06a8b1b was built from.
import { strict as assert } from "node:assert";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { FAKE_IPA_CA_FILE, FAKE_IPA_CONF, renderFakeIpaConf } from "../../components/fleet/fakeIpa";
import { parseImageRef } from "../../components/registry/images";

/** Every conf.py key we render and where fake-ipa reads it. A key missing here fails the test. */
const READ_BY_FAKE_IPA: Record<string, string> = {
    FAKE_IPA_API_URL: "UI:fake-ipa/fake_ipa/main.py:129-130 (the agent's Ironic API)",
    FAKE_IPA_INSPECTION_CALLBACK_URL: "UI:fake-ipa/fake_ipa/fake_agent.py:35,69-79 (POSTs the inventory there)",
    FAKE_IPA_ADVERTISE_ADDRESS_IP: "UI:fake-ipa/fake_ipa/main.py:283-287 (required); heartbeater.py:105",
    FAKE_IPA_ADVERTISE_ADDRESS_PORT: "UI:fake-ipa/fake_ipa/main.py:288-289; heartbeater.py:106",
    SUSHY_FAKE_IPA_LISTEN_PORT: "UI:fake-ipa/fake_ipa/main.py:303",
    FAKE_IPA_INSECURE: "UI:fake-ipa/fake_ipa/ironic_api_client.py:262",
    FAKE_IPA_CAFILE: "UI:fake-ipa/fake_ipa/ironic_api_client.py:265",
    FAKE_IPA_MIN_BOOT_TIME: "UI:fake-ipa/fake_ipa/fake_agent.py:37,63-65",
    FAKE_IPA_MAX_BOOT_TIME: "UI:fake-ipa/fake_ipa/fake_agent.py:38,63-65",
};

describe("contract: fake-ipa (utility-images ff1d62ee)", () => {
    const conf = renderFakeIpaConf({ apiUrl: "https://172.22.0.2:6385", advertiseIp: "192.168.111.1", port: 9900, caFile: FAKE_IPA_CA_FILE, minBootSeconds: 20, maxBootSeconds: 30 });
    const keys = [...conf.matchAll(/^([A-Z_][A-Z0-9_]*) = /gm)].map((m) => m[1]);

    it("is the image built from that commit", () => {
        assert.match(parseImageRef(DEFAULT_IMAGES.fakeIpa).tag!, /^main_\d{4}-\d{2}-\d{2}_ff1d62ee3d668bca4492deb10dcde652e06a8b1b$/);
    });

    it("renders only keys fake-ipa reads, every one of them", () => {
        assert.deepEqual(keys.filter((k) => !(k in READ_BY_FAKE_IPA)), []);
        assert.deepEqual([...keys].sort(), Object.keys(READ_BY_FAKE_IPA).sort());
    });

    it("leaves out the Redfish BMC: the agent's standby.power_off cannot use it", () => {
        // UI:fake-ipa/fake_ipa/standby.py:34-46 reads FAKE_IPA_REDFISH_* through self.agent._config, but
        // base.py:226 builds every extension with no agent (base.py:34 agent=None), so power_off fails
        // whatever the config says; Ironic then powers the host off over Redfish itself.
        assert.doesNotMatch(conf, /FAKE_IPA_REDFISH/);
    });

    it("posts inspection data to Ironic's continue_inspection", () => {
        // ironic-inspector (/v1/continue on 5050) left ironic-image in v25; UI's own sample conf.py:2 uses this endpoint.
        assert.match(conf, /^FAKE_IPA_INSPECTION_CALLBACK_URL = 'https:\/\/172\.22\.0\.2:6385\/v1\/continue_inspection'$/m);
    });

    it("verifies Ironic with the CA file at the path we copy it to", () => {
        // UI:fake-ipa/fake_ipa/ironic_api_client.py:262-265: verify = CAFILE unless INSECURE.
        assert.match(conf, /^FAKE_IPA_INSECURE = False$/m);
        assert.match(conf, new RegExp(`^FAKE_IPA_CAFILE = '${FAKE_IPA_CA_FILE}'$`, "m"));
    });

    it("writes the config where the image reads it", () => {
        // UI:fake-ipa/Dockerfile:15-19: COPY . /app/; ENV CONFIG ${CONFIG:-/app/conf.py}; CMD fake-ipa --config "${CONFIG}"
        // (main.py:261,281: app.config.from_pyfile(args.config)).
        assert.equal(FAKE_IPA_CONF, "/app/conf.py");
    });

    it("listens on integer ports (Flask app.run needs an int)", () => {
        assert.match(conf, /^SUSHY_FAKE_IPA_LISTEN_PORT = 9900$/m);
        assert.match(conf, /^FAKE_IPA_ADVERTISE_ADDRESS_PORT = 9900$/m);
    });
});
