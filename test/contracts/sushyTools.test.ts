// Contract: what our sushy-tools rendering relies on in the image
// quay.io/metal3-io/sushy-tools:v38.0.0, built by metal3-io/ironic-image@v38.0.0
// (resources/sushy-tools/, "II") from openstack/sushy-tools git 3b57e7a ("ST").
// 3b57e7a is the 2026-05-15 "latest from git" bump (II commit e14c0147); it is
// not in the fetched ST snapshot (master 2b51921, 2026-03-13), which already has
// SUSHY_EMULATOR_NO_MEMOIZE (merged 2026-02-27, commit 428b213), so the lines
// below are ST@2b51921 and NO_MEMOIZE in 3b57e7a is inferred from the dates.
import { strict as assert } from "node:assert";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { htpasswdLine, renderSushyConf, SUSHY_AUTH_FILE, SUSHY_CONF, sushyPlan } from "../../components/fleet/sushyFleet";
import { buildInventory } from "../../components/inventory/inventory";
import { releaseVersion } from "../../components/registry/images";
import { labConfig } from "../support/mockProgram";

/** Every conf.py key we render and where sushy-tools reads it. A key missing here fails the test. */
const READ_BY_SUSHY: Record<string, string> = {
    SUSHY_EMULATOR_LISTEN_IP: "ST:sushy_tools/emulator/main.py:1167 (app.run host)",
    SUSHY_EMULATOR_LISTEN_PORT: "ST:sushy_tools/emulator/main.py:1168 (app.run port)",
    SUSHY_EMULATOR_AUTH_FILE: "ST:sushy_tools/emulator/main.py:95-97 (RedfishAuthMiddleware)",
    SUSHY_EMULATOR_FAKE_DRIVER: "ST:sushy_tools/emulator/main.py:114-120 (FakeDriver)",
    SUSHY_EMULATOR_NO_MEMOIZE: "ST:sushy_tools/emulator/resources/systems/fakedriver.py:48,53-54 (plain dict instead of the SQLite PersistentDict)",
    EXTERNAL_NOTIFICATION_URL: "ST:sushy_tools/emulator/resources/systems/fakedriver.py:195-213 (requests.put of the whole system)",
    SUSHY_EMULATOR_FAKE_SYSTEMS: "ST:sushy_tools/emulator/resources/systems/fakedriver.py:31,61-64",
};

/** Fields of each fake system and where the fake driver reads them. */
const SYSTEM_FIELDS: Record<string, string> = {
    uuid: "fakedriver.py:63-64 (the system's key and Redfish id)",
    name: "fakedriver.py:66-69,119-121",
    power_state: "fakedriver.py:125-126,145",
    external_notifier: "fakedriver.py:102-103 (notify on every _update)",
    nics: "fakedriver.py:180-183 (each nic's mac)",
};

describe("contract: sushy-tools image v38.0.0", () => {
    const cfg = labConfig("dev", { nodes: 4, sushyContainers: 2, fakeIpaContainers: 1 });
    const plan = sushyPlan(cfg, buildInventory(cfg));
    const conf = renderSushyConf(plan[1]);
    const keys = [...conf.matchAll(/^([A-Z_][A-Z0-9_]*) = /gm)].map((m) => m[1]);

    it("is the image the lab pins", () => {
        assert.equal(releaseVersion(DEFAULT_IMAGES.sushyTools, "sushyTools"), "v38.0.0");
        assert.match(DEFAULT_IMAGES.sushyTools, /^quay\.io\/metal3-io\/sushy-tools:/);
    });

    it("renders only keys sushy-tools reads", () => {
        assert.deepEqual(keys.filter((k) => !(k in READ_BY_SUSHY)), []);
        assert.deepEqual([...keys].sort(), Object.keys(READ_BY_SUSHY).sort());
    });

    it("gives each fake system only fields the fake driver reads", () => {
        for (const s of plan[1].systems) assert.deepEqual(Object.keys(s).sort(), Object.keys(SYSTEM_FIELDS).sort());
        for (const s of plan[1].systems) for (const nic of s.nics) assert.deepEqual(Object.keys(nic), ["mac"]);
    });

    it("sets the listen address the way the start script looks for it", () => {
        // II@v38.0.0:resources/sushy-tools/redfish-emulator.sh:5 reads SUSHY_TOOLS_CONFIG (default /root/sushy/conf.py);
        // :12 adds `--interface ::` unless the file has a line starting "SUSHY_EMULATOR_LISTEN_IP =".
        assert.equal(SUSHY_CONF, "/root/sushy/conf.py");
        assert.match(conf, /^SUSHY_EMULATOR_LISTEN_IP = '0\.0\.0\.0'$/m);
    });

    it("keeps systems in memory: NO_MEMOIZE is True", () => {
        // ST:fakedriver.py:53-56: without it every request goes through memoize.PersistentDict (SQLite).
        assert.match(conf, /^SUSHY_EMULATOR_NO_MEMOIZE = True$/m);
        assert.match(conf, /^SUSHY_EMULATOR_FAKE_DRIVER = True$/m);
    });

    it("notifies fake-ipa's PUT / route", () => {
        // ST:fakedriver.py:211-213 PUTs to the URL as given; utility-images fake-ipa/fake_ipa/main.py:57 serves PUT '/'.
        const url = new URL(/^EXTERNAL_NOTIFICATION_URL = '([^']*)'$/m.exec(conf)![1]);
        assert.equal(url.pathname, "/");
        assert.equal(url.protocol, "http:");
        assert.equal(url.port, String(cfg.ports.fakeIpaBase));
    });

    it("writes the auth file with a bcrypt digest, the only kind accepted", () => {
        // ST:sushy_tools/emulator/auth_basic.py:138-145: `user:digest`, digest prefix $2y$/$2a$/$2b$.
        assert.equal(htpasswdLine("admin", "$2b$12$abc"), "admin:$2b$12$abc\n");
        assert.throws(() => htpasswdLine("admin", "$apr1$x"), /bcrypt/);
        assert.match(conf, new RegExp(`^SUSHY_EMULATOR_AUTH_FILE = '${SUSHY_AUTH_FILE}'$`, "m"));
    });
});
