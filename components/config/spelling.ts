// Near-miss spellings: config under a misspelt key or namespace is otherwise
// silently ignored, so the loader names what the user probably meant.

/** Edits (insert, delete, substitute, swap two neighbours) that turn a into b; case-sensitive. */
export function editDistance(a: string, b: string): number {
    // d[i][j]: distance between a's first i and b's first j characters (optimal string alignment).
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** Most edits for a name to count as a misspelling of another. */
export const NEAR_MISS_EDITS = 2;

/** `candidate` differs from `wanted` but only by a typo: at most NEAR_MISS_EDITS edits, ignoring case. */
export function isNearMiss(candidate: string, wanted: string): boolean {
    return candidate !== wanted && editDistance(candidate.toLowerCase(), wanted.toLowerCase()) <= NEAR_MISS_EDITS;
}

/** The known names `name` is a near miss of, closest first. */
export function suggestions(name: string, known: readonly string[]): string[] {
    return known
        .filter((k) => isNearMiss(name, k))
        .sort((x, y) => editDistance(name.toLowerCase(), x.toLowerCase()) - editDistance(name.toLowerCase(), y.toLowerCase()));
}
