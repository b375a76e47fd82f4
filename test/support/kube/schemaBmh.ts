/**
 * BareMetalHost v1alpha1 as the pinned BMO release's CRD declares it, written
 * out by hand (no upstream file is copied): every field of spec and status
 * with its type, and every enum, pattern, bound, default and required list.
 * Source: metal3-io/baremetal-operator@v0.13.2:config/base/crds/bases/metal3.io_baremetalhosts.yaml
 * ("CRD:<line>" below). Descriptions are left out; test/contracts/bmhSchema.test.ts
 * holds these facts against the lines quoted.
 */
import { Schema, arr, bool, int, num, obj, rootSchema, str, strEnum, time } from './schema';

/** CRD:131-133 (spec.bootMode) and :1028-1030 (status.provisioning.bootMode). */
export const BOOT_MODES = ['UEFI', 'UEFISecureBoot', 'legacy'] as const;
/** CRD:87-88, default `metadata` (:82). */
export const AUTOMATED_CLEANING_MODES = ['metadata', 'disabled'] as const;
/** CRD:313-314 (spec.inspectionMode). */
export const INSPECTION_MODES = ['disabled', 'agent'] as const;
/** CRD:277-280 (image.checksumType). */
export const CHECKSUM_TYPES = ['md5', 'sha256', 'sha512', 'auto'] as const;
/** CRD:288-292 (image.format). */
export const IMAGE_FORMATS = ['raw', 'qcow2', 'vdi', 'vmdk', 'live-iso'] as const;
/** CRD:385-392 (hardwareRAIDVolumes[].level). */
export const HARDWARE_RAID_LEVELS = ['0', '1', '2', '5', '6', '1+0', '5+0', '6+0'] as const;
/** CRD:450-452 (softwareRAIDVolumes[].level). */
export const SOFTWARE_RAID_LEVELS = ['0', '1', '1+0'] as const;
/** CRD:1002-1008 (status.operationalStatus; the empty string is allowed). */
export const OPERATIONAL_STATUSES = ['', 'OK', 'discovered', 'error', 'delayed', 'detached', 'servicing'] as const;
/** CRD:712-718 (status.errorType). */
export const ERROR_TYPES = [
    'provisioned registration error',
    'registration error',
    'inspection error',
    'preparation error',
    'provisioning error',
    'power management error',
    'servicing error',
] as const;
/** CRD:899-901 (status.hardware.storage[].type). */
export const DISK_TYPES = ['HDD', 'SSD', 'NVME'] as const;
/** CRD:678-680 (status.conditions[].status). */
export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
/** CRD:632-633. */
export const SPEC_REQUIRED = ['online'] as const;
/** CRD:114-115. */
export const BMC_REQUIRED = ['address', 'credentialsName'] as const;
/** CRD:1359-1364. */
export const STATUS_REQUIRED = ['errorCount', 'errorMessage', 'operationalStatus', 'poweredOn', 'provisioning'] as const;
/** CRD:1334-1336. */
export const PROVISIONING_REQUIRED = ['ID', 'state'] as const;
/** CRD:688-692. */
export const CONDITION_REQUIRED = ['lastTransitionTime', 'message', 'reason', 'status', 'type'] as const;
/** CRD:122 and :811 (bootMACAddress, hardware.nics[].mac); unanchored, as upstream. */
export const MAC_PATTERN = '[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}';
/**
 * status.provisioning.state is a plain string in the CRD (CRD:1330-1333, no
 * enum): the apiserver accepts any value. BMO's values, for the simulator's
 * tests: apis/metal3.io/v1alpha1/baremetalhost_types.go:298-346.
 */
export const PROVISIONING_STATES = [
    '',
    'unmanaged',
    'registering',
    'match profile',
    'preparing',
    'ready',
    'available',
    'provisioning',
    'provisioned',
    'externally provisioned',
    'deprovisioning',
    'inspecting',
    'powering off before delete',
    'deleting',
] as const;

const nameRef = () => obj({ name: str(), namespace: str() });
/** CRD:533-581, also status.provisioning.rootDeviceHints and softwareRAID physicalDisks[]. */
const deviceHints = () =>
    obj({
        deviceName: str(),
        hctl: str(),
        minSizeGigabytes: int({ minimum: 0 }),
        model: str(),
        rotational: bool(),
        serialNumber: str(),
        vendor: str(),
        wwn: str(),
        wwnVendorExtension: str(),
        wwnWithExtension: str(),
    });
/** CRD:261-305 */
const image = () => obj({ checksum: str(), checksumType: strEnum(CHECKSUM_TYPES), format: strEnum(IMAGE_FORMATS), ociAuthSecretName: str(), url: str() }, ['url']);
/** CRD:223-251: booleans with an enum of true/false, as upstream declares them. */
const firmware = () => obj({ simultaneousMultithreadingEnabled: bool({ enum: [true, false] }), sriovEnabled: bool({ enum: [true, false] }), virtualizationEnabled: bool({ enum: [true, false] }) });
/** CRD:361-525 */
const raid = () =>
    obj({
        hardwareRAIDVolumes: arr(
            obj(
                {
                    controller: str(),
                    level: strEnum(HARDWARE_RAID_LEVELS),
                    name: str({ maxLength: 64 }),
                    numberOfPhysicalDisks: int({ minimum: 1 }),
                    physicalDisks: arr(str()),
                    rotational: bool(),
                    sizeGibibytes: int({ minimum: 0 }),
                },
                ['level'],
            ),
            { nullable: true },
        ),
        softwareRAIDVolumes: arr(obj({ level: strEnum(SOFTWARE_RAID_LEVELS), physicalDisks: arr(deviceHints()), sizeGibibytes: int({ minimum: 0 }) }, ['level']), { nullable: true }),
    });
const customDeploy = () => obj({ method: str() }, ['method']);
const nullableTime = () => time({ nullable: true });
const opTimes = () => obj({ end: nullableTime(), start: nullableTime() });
const credentialsRef = () => obj({ credentials: nameRef(), credentialsVersion: str() });

/** CRD:73-633 */
const spec: Schema = obj(
    {
        architecture: str(),
        automatedCleaningMode: strEnum(AUTOMATED_CLEANING_MODES, { default: 'metadata' }),
        bmc: obj({ address: str(), credentialsName: str(), disableCertificateVerification: bool() }, BMC_REQUIRED),
        bootMACAddress: str({ pattern: MAC_PATTERN }),
        bootMode: strEnum(BOOT_MODES),
        consumerRef: obj({ apiVersion: str(), fieldPath: str(), kind: str(), name: str(), namespace: str(), resourceVersion: str(), uid: str() }),
        customDeploy: customDeploy(),
        description: str(),
        disablePowerOff: bool(),
        externallyProvisioned: bool(),
        firmware: firmware(),
        hardwareProfile: str(),
        image: image(),
        inspectionMode: strEnum(INSPECTION_MODES),
        metaData: nameRef(),
        networkData: nameRef(),
        online: bool(),
        preprovisioningNetworkDataName: str(),
        raid: raid(),
        rootDeviceHints: deviceHints(),
        taints: arr(obj({ effect: str(), key: str(), timeAdded: time(), value: str() }, ['effect', 'key'])),
        userData: nameRef(),
    },
    SPEC_REQUIRED,
);

/** CRD:741-927 */
const hardware: Schema = obj({
    cpu: obj({ arch: str(), clockMegahertz: num({ format: 'double' }), count: int(), flags: arr(str()), model: str() }),
    firmware: obj({ bios: obj({ date: str(), vendor: str(), version: str() }) }),
    hostname: str(),
    nics: arr(
        obj({
            ip: str(),
            lldp: obj({ portID: str(), switchID: str(), switchSystemName: str() }),
            mac: str({ pattern: MAC_PATTERN }),
            model: str(),
            name: str(),
            pciAddress: str(),
            pxe: bool(),
            speedGbps: int(),
            vlanId: int({ format: 'int32', minimum: 0, maximum: 4094 }),
            vlans: arr(obj({ id: int({ format: 'int32', minimum: 0, maximum: 4094 }), name: str() })),
        }),
    ),
    ramMebibytes: int(),
    storage: arr(
        obj({
            alternateNames: arr(str()),
            hctl: str(),
            model: str(),
            name: str(),
            rotational: bool(),
            serialNumber: str(),
            sizeBytes: int({ format: 'int64' }),
            type: strEnum(DISK_TYPES),
            vendor: str(),
            wwn: str(),
            wwnVendorExtension: str(),
            wwnWithExtension: str(),
        }),
    ),
    systemVendor: obj({ manufacturer: str(), productName: str(), serialNumber: str() }),
});

/** CRD:635-1364 */
const status: Schema = obj(
    {
        conditions: arr(
            obj(
                {
                    lastTransitionTime: time(),
                    message: str({ maxLength: 32768 }),
                    observedGeneration: int({ format: 'int64', minimum: 0 }),
                    reason: str({ pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', minLength: 1, maxLength: 1024 }),
                    status: strEnum(CONDITION_STATUSES),
                    type: str({ maxLength: 316 }),
                },
                CONDITION_REQUIRED,
            ),
        ),
        errorCount: int({ default: 0 }),
        errorMessage: str(),
        errorType: strEnum(ERROR_TYPES),
        goodCredentials: credentialsRef(),
        hardware,
        hardwareProfile: str(),
        lastUpdated: time(),
        operationHistory: obj({ deprovision: opTimes(), inspect: opTimes(), provision: opTimes(), register: opTimes() }),
        operationalStatus: strEnum(OPERATIONAL_STATUSES),
        poweredOn: bool(),
        provisioning: obj(
            {
                ID: str(),
                bootMode: strEnum(BOOT_MODES),
                customDeploy: customDeploy(),
                firmware: firmware(),
                image: image(),
                raid: raid(),
                rootDeviceHints: deviceHints(),
                state: str(),
            },
            PROVISIONING_REQUIRED,
        ),
        triedCredentials: credentialsRef(),
    },
    STATUS_REQUIRED,
);

export const BARE_METAL_HOST_SCHEMA: Schema = rootSchema({ spec, status });
