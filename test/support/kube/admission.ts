/**
 * Validating admission webhooks of the Kubernetes API test server. A denial is
 * answered as the apiserver answers a webhook's `allowed: false` from a
 * controller-runtime validator (BMO's): 403 Forbidden, message
 * `admission webhook "<name>" denied the request: <reason>` (several reasons:
 * `[a, b]`, as k8s.io/apimachinery's errors.NewAggregate prints them).
 */
import { KObj, KubeApiError, apiError } from './objects';
import type { ResourceInfo } from './registry';

export type AdmissionOperation = 'CREATE' | 'UPDATE';

export interface AdmissionRequest {
    operation: AdmissionOperation;
    resource: ResourceInfo;
    /** '' for the main resource, 'status' for the status subresource */
    subresource: string;
    namespace: string;
    name: string;
    object: Readonly<KObj>;
    oldObject?: Readonly<KObj>;
    dryRun: boolean;
}

export interface ValidatingWebhook {
    /** the webhook's name in its configuration, e.g. baremetalhost.metal3.io */
    name: string;
    /** plurals it is registered for (e.g. ['baremetalhosts']); the main resource only, as BMO's rules */
    resources: string[];
    /** default: CREATE and UPDATE */
    operations?: AdmissionOperation[];
    /** denial reasons; empty or undefined admits the request */
    validate(req: AdmissionRequest): string | string[] | undefined;
}

/** BMO's validating webhook name (config/webhook/manifests.yaml, `baremetalhost.metal3.io`). */
export const BMH_WEBHOOK = 'baremetalhost.metal3.io';

export function webhookDenied(name: string, reasons: string[]): KubeApiError {
    const why = reasons.length === 1 ? reasons[0] : `[${reasons.join(', ')}]`;
    return apiError(403, 'Forbidden', `admission webhook ${JSON.stringify(name)} denied the request: ${why}`);
}

export class AdmissionChain {
    private readonly hooks: ValidatingWebhook[] = [];
    /** Requests denied so far, per webhook name. */
    readonly denied = new Map<string, number>();

    /** Registers a validating webhook; returns its removal. */
    register(hook: ValidatingWebhook): () => void {
        this.hooks.push(hook);
        return () => {
            const i = this.hooks.indexOf(hook);
            if (i >= 0) this.hooks.splice(i, 1);
        };
    }

    /**
     * A webhook named like BMO's that denies BareMetalHost writes for which
     * `reason(object)` returns a message.
     */
    denyBareMetalHosts(reason: (bmh: Readonly<KObj>, req: AdmissionRequest) => string | undefined): () => void {
        return this.register({ name: BMH_WEBHOOK, resources: ['baremetalhosts'], validate: (req) => reason(req.object, req) });
    }

    /** @internal called by the store after its own validation, before the write is committed */
    admit(req: AdmissionRequest): void {
        if (req.subresource !== '') return;
        for (const hook of this.hooks) {
            if (!hook.resources.includes(req.resource.plural)) continue;
            if (!(hook.operations ?? ['CREATE', 'UPDATE']).includes(req.operation)) continue;
            const out = hook.validate(req);
            const reasons = (Array.isArray(out) ? out : out ? [out] : []).filter((r) => r !== '');
            if (reasons.length === 0) continue;
            this.denied.set(hook.name, (this.denied.get(hook.name) ?? 0) + 1);
            throw webhookDenied(hook.name, [...new Set(reasons)]);
        }
    }
}
