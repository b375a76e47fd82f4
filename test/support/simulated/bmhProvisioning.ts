/**
 * The image-provisioning rules of BMO v0.13.2 that the simulated BMO follows, as pure functions of a
 * BareMetalHost (plain JSON). Upstream sources (metal3-io/baremetal-operator@v0.13.2):
 * - apis/metal3.io/v1alpha1/baremetalhost_types.go: NeedsProvisioning() / hasNewImage() (spec.online and
 *   a non-empty spec.image.url that is not yet in status.provisioning.image), Image.GetChecksum().
 * - internal/controller/metal3.io/host_state_machine.go: handleAvailable (-> provisioning),
 *   handleProvisioning (-> provisioned, or deprovisioning when cancelled), handleProvisioned,
 *   imageProvisioningCancelled(), handleDeprovisioning (-> available, or powering off before delete),
 *   checkInitiateDelete (provisioning/provisioned -> deprovisioning on delete).
 * - internal/controller/metal3.io/baremetalhost_controller.go: actionProvisioning copies spec.image into
 *   status.provisioning.image when done; actionDeprovisioning clears it (Image{}) when done.
 * Custom deploy is not modelled.
 */
import type { KObj } from '../kube/objects';

/** BareMetalHost.NeedsProvisioning(): online, and an image URL not provisioned yet. */
export function needsProvisioning(host: Readonly<KObj>): boolean {
    if (host.spec?.online !== true) return false;
    const url = host.spec?.image?.url;
    if (typeof url !== 'string' || url === '') return false;
    return !host.status?.provisioning?.image?.url;
}

/** hostStateMachine.imageProvisioningCancelled(): the image was removed or changed. */
export function provisioningCancelled(host: Readonly<KObj>): boolean {
    const spec = host.spec?.image;
    if (!spec || !spec.url) return true;
    const current = host.status?.provisioning?.image?.url ?? '';
    return current !== '' && spec.url !== current;
}

const CHECKSUM_TYPES = ['md5', 'sha256', 'sha512'];

/**
 * Image.GetChecksum(): the error the Ironic provisioner turns into a `provisioning error`, or undefined.
 * live-iso and OCI images need no checksum; checksumType must be md5/sha256/sha512/auto or empty.
 */
export function imageChecksumError(image: any): string | undefined {
    if (!image) return 'image is not provided';
    if (image.format === 'live-iso') return undefined;
    if (typeof image.url === 'string' && image.url.startsWith('oci://') && !image.checksum) return undefined;
    if (!image.checksum) return 'checksum is required for normal images';
    const t = image.checksumType ?? '';
    if (t !== '' && t !== 'auto' && !CHECKSUM_TYPES.includes(t)) return `unknown checksumType ${t}, supported are [md5 sha256 sha512]`;
    return undefined;
}

/** status.provisioning.image as actionProvisioning records it: a copy of spec.image. */
export function provisionedImage(host: Readonly<KObj>): Record<string, unknown> {
    return JSON.parse(JSON.stringify(host.spec?.image ?? { url: '' }));
}
