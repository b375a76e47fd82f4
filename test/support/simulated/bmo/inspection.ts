/**
 * Inspection and preparation (BMO v0.13.2 internal/controller/metal3.io/host_state_machine.go
 * handleInspecting, handlePreparing; baremetalhost_controller.go actionInspecting, actionPreparing):
 * each takes its delay, may fail with an injected error (the state stays, BMO retries after its
 * backoff, restarting the operation with the error cleared), and on success moves on with errorCount 0.
 * A restarted inspection is a new Ironic inspection: it waits for PROVISIONING_LIMIT capacity.
 */
import type { KObj } from '../../kube/objects';
import { runBusyStep } from './busyStep';
import type { BmoRuntime } from './runtime';
import { clearErrorFields } from './runtime';
import { hash01, Track } from './types';

export function reconcileInspecting(rt: BmoRuntime, t: Track, host: KObj): void {
    runBusyStep(rt, t, host, 'inspecting', (h) =>
        rt.setState(t, h, 'preparing', (s) => {
            clearErrorFields(s);
            s.hardware = hardwareFor(rt, h);
            s.hardwareProfile = 'unknown';
            s.poweredOn = false;
            s.errorCount = 0;
        }),
    );
}

export function reconcilePreparing(rt: BmoRuntime, t: Track, host: KObj): void {
    runBusyStep(rt, t, host, 'preparing', (h) =>
        rt.setState(t, h, 'available', (s) => {
            clearErrorFields(s);
            s.errorCount = 0;
        }),
    );
}

/** Synthetic hardware details, stable per host uid and seed. */
function hardwareFor(rt: BmoRuntime, host: KObj): unknown {
    const r = hash01(`${rt.opts.seed}:${host.metadata.uid}`);
    return {
        cpu: { arch: 'x86_64', model: 'Simulated CPU @ 2.40GHz', clockMegahertz: 2400, count: 8 + Math.floor(r * 4) * 8, flags: [] },
        ramMebibytes: 16384 * (1 + Math.floor(r * 4)),
        nics: [{ name: 'eth0', mac: host.spec?.bootMACAddress ?? '00:00:00:00:00:00', ip: '', speedGbps: 1, pxe: true, model: 'sim' }],
        storage: [{ name: '/dev/sda', sizeBytes: 107374182400, rotational: false, type: 'SSD', model: 'sim' }],
        systemVendor: { manufacturer: 'Sushy Emulator', productName: 'fake', serialNumber: '' },
        firmware: { bios: { vendor: 'sim', version: '1.0', date: '' } },
        hostname: host.metadata.name,
    };
}
