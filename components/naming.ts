// Names and type tokens shared by every component.

/** `metal3-scale-lab:<module>:<Type>` */
export function typeToken(module: string, type: string): string {
    return `metal3-scale-lab:${module}:${type}`;
}

/** Child resource name derived from its component's name: `<parent>-<part>-<part>`. */
export function childName(parent: string, ...parts: (string | number)[]): string {
    return [parent, ...parts].join("-");
}

/** Zero-padded index so names sort and stay the same width as counts grow. */
export function indexed(prefix: string, index: number, width = 3): string {
    return `${prefix}-${String(index).padStart(width, "0")}`;
}
