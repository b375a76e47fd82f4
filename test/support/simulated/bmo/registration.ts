/**
 * Registration (BMO v0.13.2 internal/controller/metal3.io/host_state_machine.go handleNone,
 * handleUnmanaged, handleRegistering, ensureRegistered; baremetalhost_controller.go registerHost,
 * buildAndValidateBMCCredentials, credentialsErrorResult; pkg/secretutils SecretManager): BMC
 * credentials checked with BMO's own messages, the Secret claimed as BMO's SecretManager does, the
 * node "enrolled" after the registering delay, and re-registration when BMC details change.
 */
import type { KObj } from '../../kube/objects';
import { failOperation, injectedFailure, MISSING_SECRET_RETRY_MINUTES } from './errors';
import { ensureCapacity } from './provisioningLimit';
import type { BmoRuntime } from './runtime';
import { clearErrorFields } from './runtime';
import { BMH, BmhState, clone, ENVIRONMENT_LABEL, fakeUuid, hash01, SECRET_FINALIZER, SECRETS, Track } from './types';

interface Credentials {
    version: string;
    digest: string;
}

const decode = (v: unknown): string => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '');

export function hasBmcDetails(host: KObj): boolean {
    return !!(host.spec?.bmc?.address || host.spec?.bmc?.credentialsName);
}

/** What BMO would push to Ironic: changes trigger a re-registration. */
function registrationKey(host: KObj, credsDigest: string): string {
    return JSON.stringify([host.spec?.bmc?.address ?? '', host.spec?.bmc?.credentialsName ?? '', credsDigest, host.spec?.bootMACAddress ?? '']);
}

/** Keeps the Secret → hosts index the Secret watch uses. */
export function indexCredentials(rt: BmoRuntime, t: Track, host: KObj): void {
    const name = host.spec?.bmc?.credentialsName;
    const key = name ? `${t.ns}/${name}` : undefined;
    if (key === t.credsKey) return;
    if (t.credsKey) rt.credsIndex.get(t.credsKey)?.delete(t.key);
    t.credsKey = key;
    if (key) {
        let s = rt.credsIndex.get(key);
        if (!s) rt.credsIndex.set(key, (s = new Set()));
        s.add(t.key);
    }
}

/** Validates BMC details; on failure records a registration error and returns undefined. */
function checkCredentials(rt: BmoRuntime, t: Track, host: KObj): Credentials | undefined {
    const bmc = host.spec?.bmc ?? {};
    let message: string | undefined;
    let secret: KObj | undefined;
    if (!bmc.credentialsName) message = 'The BMC secret reference is empty';
    else {
        secret = rt.store.peek(SECRETS, t.ns, bmc.credentialsName);
        if (!secret) message = `The BMC secret ${t.ns}/${bmc.credentialsName} does not exist`;
        else if (!bmc.address) message = "Missing BMC connection detail 'Address'";
        else if (!decode(secret.data?.username)) message = "Missing BMC connection detail 'username' in credentials";
        else if (!decode(secret.data?.password)) message = "Missing BMC connection details 'password' in credentials";
    }
    const st = host.status ?? {};
    if (message) {
        const same = st.operationalStatus === 'error' && st.errorType === 'registration error' && st.errorMessage === message;
        if (!same || t.retryDue) {
            t.retryDue = false;
            rt.setError(t, 'registration error', message, true, (s) => {
                if (bmc.credentialsName) s.triedCredentials = { credentials: { name: bmc.credentialsName, namespace: t.ns }, ...(secret ? { credentialsVersion: secret.metadata.resourceVersion } : {}) };
            });
        }
        // only a missing Secret is retried (hostErrorRetryDelay); the others wait for a change, which re-queues the host
        if (message.includes('does not exist') && !t.retryTimer) rt.retryAfter(t, MISSING_SECRET_RETRY_MINUTES * rt.opts.minuteMs, false);
        return undefined;
    }
    if (rt.opts.claimSecrets) claimSecret(rt, host, secret!);
    const data = secret!.data ?? {};
    return {
        version: rt.store.peek(SECRETS, t.ns, bmc.credentialsName)!.metadata.resourceVersion,
        digest: `${hash01(`${data.username}:${data.password}`)}`,
    };
}

function claimSecret(rt: BmoRuntime, host: KObj, secret: KObj): void {
    const md = secret.metadata;
    const owned = (md.ownerReferences ?? []).some((o: any) => o.uid === host.metadata.uid);
    const labelled = md.labels?.[ENVIRONMENT_LABEL] === 'baremetal';
    const finalized = (md.finalizers ?? []).includes(SECRET_FINALIZER) || !!md.deletionTimestamp;
    if (owned && labelled && finalized) return;
    rt.store.mutate(SECRETS, md.namespace, md.name, (o) => {
        o.metadata.labels = { ...(o.metadata.labels ?? {}), [ENVIRONMENT_LABEL]: 'baremetal' };
        if (!owned) {
            o.metadata.ownerReferences = [
                ...(o.metadata.ownerReferences ?? []),
                { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', name: host.metadata.name, uid: host.metadata.uid },
            ];
        }
        if (!o.metadata.deletionTimestamp && !(o.metadata.finalizers ?? []).includes(SECRET_FINALIZER)) {
            o.metadata.finalizers = [...(o.metadata.finalizers ?? []), SECRET_FINALIZER];
        }
    }, { fieldManager: rt.opts.fieldManager });
}

/** Drops BMO's finalizer from the host's Secret (deletion). */
export function releaseSecret(rt: BmoRuntime, host: KObj): void {
    const name = host.spec?.bmc?.credentialsName;
    if (!name || !rt.opts.claimSecrets) return;
    const secret = rt.store.peek(SECRETS, host.metadata.namespace, name);
    if (!secret || !(secret.metadata.finalizers ?? []).includes(SECRET_FINALIZER)) return;
    rt.store.mutate(SECRETS, host.metadata.namespace, name, (o) => {
        o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== SECRET_FINALIZER);
    }, { fieldManager: rt.opts.fieldManager });
}

/** handleNone: registering with BMC details, unmanaged (discovered) without. */
export function reconcileNone(rt: BmoRuntime, t: Track, host: KObj): void {
    if (!hasBmcDetails(host)) {
        rt.setState(t, host, 'unmanaged', (s) => {
            s.operationalStatus = 'discovered';
            s.errorMessage = s.errorMessage ?? '';
            s.errorCount = s.errorCount ?? 0;
            s.poweredOn = false;
        });
        return;
    }
    rt.setState(t, host, 'registering', (s) => {
        s.operationalStatus = s.operationalStatus ?? '';
        s.errorMessage = s.errorMessage ?? '';
        s.errorCount = s.errorCount ?? 0;
        s.poweredOn = false;
        s.hardwareProfile = s.hardwareProfile ?? '';
        s.provisioning.bootMode = host.spec?.bootMode ?? 'UEFI';
    });
}

export function reconcileUnmanaged(rt: BmoRuntime, t: Track, host: KObj): void {
    if (hasBmcDetails(host)) rt.setState(t, host, 'registering', (s) => (s.operationalStatus = ''));
}

/** registerHost then handleRegistering: the next state (inspecting waits for PROVISIONING_LIMIT capacity). */
export function reconcileRegistering(rt: BmoRuntime, t: Track, host: KObj): void {
    const creds = checkCredentials(rt, t, host);
    if (!creds) return;
    // BMO v0.13 InspectionDisabled(): spec.inspectionMode first, then the legacy annotation.
    const inspectionDisabled = host.spec?.inspectionMode === 'disabled' || host.metadata.annotations?.['inspect.metal3.io'] === 'disabled';
    const next: BmhState = inspectionDisabled ? 'preparing' : 'inspecting';
    if (t.registeredWaiting) {
        leaveRegistering(rt, t, host, next, creds);
        return;
    }
    // a retried registration starts again with the error cleared (registerHost: Dirty -> clearError)
    if (host.status?.operationalStatus === 'error') rt.clearError(t);
    rt.schedule(t, 'registering', rt.delayFor(t, 'registering', rt.delays.registering), () => {
        const h = rt.store.peek(BMH, t.ns, t.name);
        if (!h || h.metadata.deletionTimestamp || (h.status?.provisioning?.state ?? '') !== 'registering') return;
        const failure = injectedFailure(rt, t, h, 'registering');
        if (failure) {
            failOperation(rt, t, h, failure);
            return;
        }
        t.registered = registrationKey(h, creds.digest);
        leaveRegistering(rt, t, h, next, creds);
    });
}

function leaveRegistering(rt: BmoRuntime, t: Track, host: KObj, next: BmhState, creds: Credentials): void {
    const registered = (s: any) => {
        clearErrorFields(s);
        s.errorCount = 0;
        s.provisioning = s.provisioning ?? {};
        s.provisioning.ID = s.provisioning.ID || fakeUuid(host.metadata.uid);
        s.goodCredentials = { credentials: { name: host.spec.bmc.credentialsName, namespace: t.ns }, credentialsVersion: creds.version };
        s.triedCredentials = clone(s.goodCredentials);
    };
    t.registeredWaiting = !ensureCapacity(rt, t, host, next, t.registeredWaiting ? undefined : registered);
    if (t.registeredWaiting) return;
    rt.setState(t, host, next, (s) => {
        registered(s);
        s.poweredOn = next === 'inspecting';
    });
}

/**
 * A registered host whose BMC details changed is registered again. Returns true while that (or a
 * credentials error) keeps the host busy. Real BMO stays in its state ("We will not return to the
 * Registering state"): `onBmcChange: 'reregister'`; `'restart'` sends it back to registering.
 */
export function reregisterIfChanged(rt: BmoRuntime, t: Track, host: KObj): boolean {
    const creds = checkCredentials(rt, t, host);
    if (!creds) return true;
    const regKey = registrationKey(host, creds.digest);
    if (t.registered === undefined) t.registered = regKey; // simulator (re)started: adopt
    if (regKey !== t.registered) {
        if (rt.opts.onBmcChange === 'restart') {
            t.registered = undefined;
            rt.setState(t, host, 'registering', (s) => (s.operationalStatus = ''));
            return true;
        }
        rt.schedule(t, 'reregister', rt.delayFor(t, 'registering', rt.delays.registering), () => {
            const h = rt.store.peek(BMH, t.ns, t.name);
            if (!h || h.metadata.deletionTimestamp) return;
            t.registered = regKey;
            rt.writeStatus(t.ns, t.name, (s) => {
                clearErrorFields(s);
                s.goodCredentials = { credentials: { name: h.spec.bmc.credentialsName, namespace: t.ns }, credentialsVersion: creds.version };
                s.triedCredentials = clone(s.goodCredentials);
            });
        });
        return true;
    }
    const st = host.status ?? {};
    if (st.operationalStatus === 'error' && st.errorType === 'registration error') {
        rt.clearError(t);
        return true;
    }
    return false;
}
