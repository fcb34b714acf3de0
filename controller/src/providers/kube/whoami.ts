// Who the API server thinks we are, for recording who gave a command: a
// SelfSubjectReview where the server has it (Kubernetes 1.28+), otherwise the
// kubeconfig's own claim (the client certificate's CN, or the user entry's name).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { kubeFailure } from './client.js';

export interface Identity {
  user: string;
  /** 'server' when the API server said so; 'kubeconfig' when taken from the kubeconfig. */
  source: 'server' | 'kubeconfig';
}

/** Who the API server knows this kubeconfig's user as (SelfSubjectReview), or the kubeconfig's own claim on older servers. */
export async function whoami(kc: KubeConfig): Promise<Identity> {
  try {
    const review = await kc
      .makeApiClient(AuthenticationV1Api)
      .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    const user = review.status?.userInfo?.username;
    if (user) return { user, source: 'server' };
  } catch (err) {
    const { code } = kubeFailure(err);
    // 404: an API server older than 1.28. Anything else (network, 403) is the caller's next call's problem too.
    if (code !== 404 && code !== 403) throw err;
  }
  const entry = kc.getCurrentUser();
  const pem = entry?.certData
    ? Buffer.from(entry.certData, 'base64')
    : entry?.certFile
      ? readFileSync(entry.certFile)
      : undefined;
  if (pem) {
    const cn = /CN=([^,\n]+)/.exec(new X509Certificate(pem).subject)?.[1];
    if (cn) return { user: cn, source: 'kubeconfig' };
  }
  return { user: entry?.name ?? 'unknown', source: 'kubeconfig' };
}
