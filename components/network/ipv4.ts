// IPv4 arithmetic for CIDR checks and conductor IP allocation (pure, no engine).

export interface Cidr {
    readonly network: number;
    readonly prefix: number;
    /** Addresses in the block, network and broadcast included. */
    readonly size: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | undefined {
    const m = IPV4.exec(text);
    if (!m) return undefined;
    const octets = m.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    return ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
}

export function formatIpv4(value: number): string {
    return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join(".");
}

export function parseCidr(text: string): Cidr | undefined {
    const [ip, prefixText, extra] = text.split("/");
    if (extra !== undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return undefined;
    const prefix = Number(prefixText);
    const address = parseIpv4(ip);
    if (address === undefined || prefix < 8 || prefix > 30) return undefined;
    const size = 2 ** (32 - prefix);
    const network = address - (address % size);
    if (network !== address) return undefined; // host bits set: ambiguous, reject
    return { network, prefix, size };
}

export function cidrContains(cidr: Cidr, address: number): boolean {
    return address >= cidr.network && address < cidr.network + cidr.size;
}

/** First and last usable host address (network and broadcast excluded). */
export function usableRange(cidr: Cidr): [number, number] {
    return [cidr.network + 1, cidr.network + cidr.size - 2];
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    return a.network < b.network + b.size && b.network < a.network + a.size;
}
