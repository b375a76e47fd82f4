/** Throw-away certificates made with the openssl CLI (test servers and doubles only). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';

export interface CertOptions {
    /** default 'ec' (P-256) */
    keyType?: 'ec' | 'rsa';
    /** subject CN (default kube-apiserver) */
    cn?: string;
    /** subjectAltName (default IP:127.0.0.1,DNS:localhost) */
    san?: string;
}

/** A throw-away self-signed certificate, made with the openssl CLI. RSA keys are PKCS#1 PEM, as CAPI writes them. */
export function makeSelfSignedCert(opts: CertOptions = {}): { key: string; cert: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-test-cert-'));
    try {
        const keyFile = path.join(dir, 'key.pem');
        const certFile = path.join(dir, 'cert.pem');
        const keyArgs = opts.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
        execFileSync(
            'openssl',
            ['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${opts.cn ?? 'kube-apiserver'}`, '-addext', `subjectAltName=${opts.san ?? 'IP:127.0.0.1,DNS:localhost'}`],
            { stdio: 'ignore' },
        );
        let key = fs.readFileSync(keyFile, 'utf8');
        if (opts.keyType === 'rsa') key = createPrivateKey(key).export({ type: 'pkcs1', format: 'pem' }).toString();
        return { key, cert: fs.readFileSync(certFile, 'utf8') };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

let rsaCa: { key: string; cert: string } | undefined;

/**
 * One RSA CA key pair per process (RSA generation costs ~0.3 s): what the simulated KCP puts in
 * `<cluster>-ca` / `<cluster>-etcd` and the FKAS double serves workload API servers with.
 */
export function sharedRsaCa(): { key: string; cert: string } {
    return (rsaCa ??= makeSelfSignedCert({ keyType: 'rsa', cn: 'kubernetes' }));
}
