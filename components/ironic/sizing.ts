// Pure sizing rules for the Ironic cluster (no engine, unit-tested).

/**
 * Connections one Ironic process keeps in its SQLAlchemy pool. oslo.db's own
 * defaults (5 + 50 overflow) would let a single process open 55 connections;
 * the conductors pin both through OS_DATABASE__MAX_POOL_SIZE/MAX_OVERFLOW so the
 * MariaDB limit below is an actual upper bound, not a guess.
 */
export const DB_POOL_SIZE = 5;
export const DB_MAX_OVERFLOW = 5;

/** Head-room for ironic-dbsync at conductor start, mysqladmin probes and a human with a client. */
export const MARIADB_RESERVED_CONNECTIONS = 16;

/** The mariadb image's own default; never go below it. */
export const MARIADB_MIN_CONNECTIONS = 64;

/**
 * MariaDB is sized for conductors in blocks of this many. A new limit never
 * restarts the database (it is applied live and kept in a ConfigMap for the
 * next boot), but it does change two shared objects. Sizing in blocks means
 * adding conductor N+1 touches nothing shared unless it crosses a block
 * boundary (8 -> 9, 16 -> 17, ...).
 */
export const CONDUCTOR_BLOCK = 8;

/** Conductors the database is sized for: the count rounded up to a whole block. */
export function conductorCapacity(conductors: number): number {
    if (!Number.isInteger(conductors) || conductors < 1) throw new Error(`conductors must be a positive integer, got ${conductors}`);
    return Math.ceil(conductors / CONDUCTOR_BLOCK) * CONDUCTOR_BLOCK;
}

/**
 * MariaDB's max_connections for `conductors` conductor pods running `apiWorkers`
 * API worker processes each.
 *
 * Why: every conductor pod runs the all-in-one `ironic` service: one conductor
 * process plus NUMWORKERS (= apiWorkers) API processes, each with its own pool of
 * at most DB_POOL_SIZE + DB_MAX_OVERFLOW connections. The study ran 15
 * conductors against a hand-picked 300 and saw the limit hit under load; this
 * bound is what the conductors can really open, plus a reserve.
 */
export function mariadbMaxConnections(conductors: number, apiWorkers: number): number {
    if (!Number.isInteger(apiWorkers) || apiWorkers < 1) throw new Error(`apiWorkers must be a positive integer, got ${apiWorkers}`);
    const processesPerConductor = apiWorkers + 1;
    const perProcess = DB_POOL_SIZE + DB_MAX_OVERFLOW;
    return Math.max(MARIADB_MIN_CONNECTIONS, conductorCapacity(conductors) * processesPerConductor * perProcess + MARIADB_RESERVED_CONNECTIONS);
}
