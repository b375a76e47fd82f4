/**
 * The Cluster API and CAPM3 kinds our workload-cluster batches write, partially:
 * only the required fields of the paths we render are modelled; every other
 * field is kept unchecked (no pruning), so a misspelled field of these kinds is
 * NOT caught, only a missing required one. Exception: Metal3MachineTemplate's
 * spec is modelled in full.
 * Sources (v1beta2, the storage version):
 * - CAPI: kubernetes-sigs/cluster-api@v1.13.5:config/crd/bases/cluster.x-k8s.io_{clusters,machines,machinedeployments}.yaml,
 *   controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml,
 *   bootstrap/kubeadm/config/crd/bases/bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml
 * - CAPM3: metal3-io/cluster-api-provider-metal3@v1.13.2:config/crd/bases/infrastructure.cluster.x-k8s.io_{metal3machinetemplates,metal3datatemplates}.yaml
 */
import { Schema, arr, bool, obj, partial, rootSchema, str, strEnum } from './schema';

/** Every v1beta2 contract reference: apiGroup, kind and name, all required (e.g. clusters.yaml spec.infrastructureRef). */
export const REF_REQUIRED = ['apiGroup', 'kind', 'name'] as const;
/** A root with `spec` (partial) and an unchecked `status`: pruning at the root must keep status. */
const capiRoot = (spec: Schema, required: readonly string[] = []) => rootSchema({ spec, status: partial({}) }, required);
const ref = () => partial({ apiGroup: str(), kind: str(), name: str() }, REF_REQUIRED);

/** clusters.yaml: root requires spec; topology requires classRef and version. */
export const CLUSTER_SCHEMA: Schema = capiRoot(
    partial({ controlPlaneRef: ref(), infrastructureRef: ref(), topology: partial({ classRef: partial({ name: str() }, ['name']), version: str() }, ['classRef', 'version']) }),
    ['spec'],
);

/** machines.yaml: spec requires bootstrap, clusterName, infrastructureRef. */
export const MACHINE_SPEC_REQUIRED = ['bootstrap', 'clusterName', 'infrastructureRef'] as const;
const machineSpec = () => partial({ bootstrap: partial({ configRef: ref() }), clusterName: str(), infrastructureRef: ref() }, MACHINE_SPEC_REQUIRED);
export const MACHINE_SCHEMA: Schema = capiRoot(machineSpec(), ['spec']);

/** machinedeployments.yaml: spec requires clusterName, selector, template; template requires spec. */
export const MACHINE_DEPLOYMENT_SPEC_REQUIRED = ['clusterName', 'selector', 'template'] as const;
export const MACHINE_DEPLOYMENT_SCHEMA: Schema = capiRoot(partial({ clusterName: str(), template: partial({ spec: machineSpec() }, ['spec']) }, MACHINE_DEPLOYMENT_SPEC_REQUIRED), ['spec']);

/** kubeadmcontrolplanes.yaml: spec requires machineTemplate and version; machineTemplate.spec requires infrastructureRef. */
export const KCP_SPEC_REQUIRED = ['machineTemplate', 'version'] as const;
export const KUBEADM_CONTROL_PLANE_SCHEMA: Schema = capiRoot(
    partial({ machineTemplate: partial({ spec: partial({ infrastructureRef: ref() }, ['infrastructureRef']) }, ['spec']), version: str() }, KCP_SPEC_REQUIRED),
    ['spec'],
);

/** kubeadmconfigtemplates.yaml: spec requires template (the root does not require spec). */
export const KUBEADM_CONFIG_TEMPLATE_SCHEMA: Schema = capiRoot(partial({}, ['template']));

/**
 * metal3machinetemplates.yaml, spec.template.spec modelled in full (unknown fields pruned): v1beta2 renamed
 * v1beta1's image.format to diskFormat, and a client still writing `format` loses it.
 */
export const M3MT_IMAGE_REQUIRED = ['checksum', 'url'] as const;
const nameRef = () => obj({ name: str(), namespace: str() });
const metal3MachineSpec = () =>
    obj({
        automatedCleaningMode: strEnum(['metadata', 'disabled']),
        customDeploy: obj({ method: str({ minLength: 1, maxLength: 512 }) }, ['method']),
        dataTemplate: obj({ name: str({ minLength: 1, maxLength: 253 }), namespace: str({ minLength: 1, maxLength: 253 }) }),
        failureDomain: str({ minLength: 1, maxLength: 256 }),
        hostSelector: obj({
            matchExpressions: arr(obj({ key: str({ minLength: 1, maxLength: 512 }), operator: str(), values: arr(str({ minLength: 1, maxLength: 512 })) }, ['key', 'operator', 'values'])),
            matchLabels: { type: 'object', additionalProperties: str() },
        }),
        image: obj(
            { checksum: str({ maxLength: 512 }), checksumType: strEnum(['md5', 'sha256', 'sha512']), diskFormat: strEnum(['raw', 'qcow2', 'vdi', 'vmdk', 'live-iso']), url: str({ minLength: 1, maxLength: 512 }) },
            M3MT_IMAGE_REQUIRED,
        ),
        metaData: nameRef(),
        networkData: nameRef(),
        providerID: str({ minLength: 1, maxLength: 512 }),
        userData: nameRef(),
    });
export const METAL3_MACHINE_TEMPLATE_SCHEMA: Schema = capiRoot(
    obj(
        {
            nodeReuse: bool({ default: false }),
            template: obj({ metadata: obj({ annotations: { type: 'object', additionalProperties: str() }, labels: { type: 'object', additionalProperties: str() } }), spec: metal3MachineSpec() }, ['spec']),
        },
        ['template'],
    ),
    ['spec'],
);

/** metal3datatemplates.yaml: spec requires clusterName. */
export const METAL3_DATA_TEMPLATE_SCHEMA: Schema = capiRoot(partial({ clusterName: str() }, ['clusterName']));
