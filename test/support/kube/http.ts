/** HTTP plumbing of the Kubernetes API test server: serialisation, body reading, common errors. */
import type * as http from 'node:http';
import { KubeApiError, apiError } from './objects';
import type { Rec } from './store';

export function objJson(r: Rec): string {
    return (r.json ??= JSON.stringify(r.obj));
}

export function listItemJson(r: Rec): string {
    if (r.listJson === undefined) {
        const { apiVersion: _a, kind: _k, ...rest } = r.obj;
        r.listJson = JSON.stringify(rest);
    }
    return r.listJson;
}

export function pathNotFound(): KubeApiError {
    return apiError(404, 'NotFound', 'the server could not find the requested resource');
}

export function unsupportedMediaType(ct: string): KubeApiError {
    return apiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format${ct ? ` (${ct})` : ''} - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
    );
}

export function parseJson(body: Buffer): any {
    const text = body.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
        return JSON.parse(text);
    } catch (e) {
        throw apiError(400, 'BadRequest', `the body of the request was in an unknown format: ${(e as Error).message}`);
    }
}

export const MAX_BODY = 3 * 1024 * 1024;

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(apiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}
