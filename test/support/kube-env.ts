// A real Kubernetes API server for tests: etcd and kube-apiserver on free
// loopback ports (binaries from test/k8s/get-apiserver.sh), token users for
// RBAC, and a kubeconfig. No kubelet: predictors run as plain processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { API_GROUP, API_VERSION } from '../../controller/src/api/schema.js';
import { PLURAL } from '../../controller/src/providers/kube/store.js';
import { freePort } from '../../controller/src/local/free-port.js';
import { Informer } from '../../controller/src/providers/kube/informer.js';
import { createLogger } from '../../shared/log.js';
import { packageRoot } from '../../shared/paths.js';
import { waitFor } from '../../shared/wait.js';

export interface KubeUser {
  name: string;
  token: string;
  groups?: string[];
}

export interface KubeEnv {
  server: string;
  dir: string;
  /** kubeconfig for a user (admin by default). */
  kubeconfig(user?: string): Promise<string>;
  /** Runs kubectl as `user`; `input` goes to its stdin. Rejects with kubectl's stderr on failure. */
  kubectl(args: string[], user?: string, input?: string): Promise<string>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

export async function binaries(): Promise<string> {
  const { stdout } = await run('bash', [path.join(packageRoot(), 'test/k8s/get-apiserver.sh')], { maxBuffer: 1 << 20 });
  return stdout.trim().split('\n').at(-1)!;
}

function ready(server: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      `${server}/readyz`,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export async function startKube(users: KubeUser[] = []): Promise<KubeEnv> {
  const bin = await binaries();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-kube-'));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  await run('openssl', ['genrsa', '-out', path.join(dir, 'sa.key'), '2048']);
  await run('openssl', ['rsa', '-in', path.join(dir, 'sa.key'), '-pubout', '-out', path.join(dir, 'sa.pub')]);
  const all: KubeUser[] = [
    { name: 'admin', token: `admin-${Math.random().toString(36).slice(2)}`, groups: ['system:masters'] },
    ...users,
  ];
  await writeFile(
    path.join(dir, 'tokens.csv'),
    all.map((u) => `${u.token},${u.name},${u.name}${u.groups ? `,"${u.groups.join(',')}"` : ''}`).join('\n') + '\n',
  );
  const children: ChildProcess[] = [];
  const etcd = spawn(
    path.join(bin, 'etcd'),
    [
      '--data-dir',
      path.join(dir, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
    ],
    { stdio: 'ignore' },
  );
  children.push(etcd);
  const apiserver = spawn(
    path.join(bin, 'kube-apiserver'),
    [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--disable-admission-plugins=ServiceAccount',
    ],
    { stdio: 'ignore' },
  );
  children.push(apiserver);
  const server = `https://127.0.0.1:${apiPort}`;
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited with code ${apiserver.exitCode}`);
        return ready(server, all[0]!.token);
      },
      60_000,
      'kube-apiserver to be ready',
      250,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const kubeconfig = async (user = 'admin') => {
    const u = all.find((x) => x.name === user);
    if (!u) throw new Error(`no test user ${user}`);
    const file = path.join(dir, `kubeconfig-${user}`);
    await writeFile(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: user, user: { token: u.token } }],
        contexts: [{ name: user, context: { cluster: 'test', user } }],
        'current-context': user,
      }),
    );
    return file;
  };
  const kubectl = async (args: string[], user = 'admin', input?: string) => {
    const config = await kubeconfig(user);
    return new Promise<string>((resolve, reject) => {
      const child = spawn('kubectl', ['--kubeconfig', config, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('exit', (code) =>
        code === 0 ? resolve(out) : reject(new Error(err.trim() || out.trim() || `kubectl exited with ${code}`)),
      );
      child.stdin.end(input ?? '');
    });
  };
  return { server, dir, kubeconfig, kubectl, stop };
}

/** The controller's ServiceAccount, as the RBAC in manifests/ binds it. */
export const CONTROLLER_SA = 'system:serviceaccount:weir-system:weir-controller';

/** A token user: the controller's ServiceAccount (in its groups), or a person in no group. */
export function tokenUser(name: string): KubeUser {
  const token = `${name.replace(/[^a-z0-9]/gi, '-')}-${Math.random().toString(36).slice(2)}`;
  return name === CONTROLLER_SA
    ? { name, token, groups: ['system:serviceaccounts', 'system:serviceaccounts:weir-system'] }
    : { name, token };
}

/** Applies CRDs (Istio's VirtualService and DestinationRule from test/k8s, and weir's ModelRollout) and waits until they serve. */
export async function installCrds(kube: KubeEnv, which: ('istio' | 'weir')[] = ['istio', 'weir']): Promise<void> {
  const files = [
    ...(which.includes('istio') ? ['test/k8s/istio-crds.yaml'] : []),
    ...(which.includes('weir') ? ['manifests/crds/modelrollouts.weir.dev.yaml'] : []),
  ];
  await kube.kubectl(['apply', ...files.flatMap((f) => ['-f', path.join(packageRoot(), f)])]);
  const crds = [
    ...(which.includes('istio')
      ? ['crd/virtualservices.networking.istio.io', 'crd/destinationrules.networking.istio.io']
      : []),
    ...(which.includes('weir') ? ['crd/modelrollouts.weir.dev'] : []),
  ];
  await kube.kubectl(['wait', '--for', 'condition=established', '--timeout=30s', ...crds]);
}

/**
 * weir's install as a cluster admin applies it: the CRDs, the namespaces, the
 * controller's and the approver's RBAC, Istio routing from manifests/, and
 * RoleBindings in `models` for approvers (weir-approver) and viewers (weir-viewer).
 */
export async function installWeir(
  kube: KubeEnv,
  people: { approvers?: string[]; viewers?: string[] } = {},
): Promise<void> {
  await installCrds(kube);
  for (const file of [
    'namespaces.yaml',
    'rbac/controller.yaml',
    'rbac/approver.yaml',
    'istio/destinationrule.yaml',
    'istio/virtualservice.yaml',
  ]) {
    await kube.kubectl(['apply', '-f', path.join(packageRoot(), 'manifests', file)]);
  }
  for (const [role, users] of [
    ['weir-approver', people.approvers ?? []],
    ['weir-viewer', people.viewers ?? []],
  ] as const) {
    for (const user of users)
      await kube.kubectl([
        'create',
        'rolebinding',
        `${role}-${user}`,
        `--clusterrole=${role}`,
        `--user=${user}`,
        '-n',
        'models',
      ]);
  }
}

/** kubectl patch --type json of one object, as admin. */
export function patchJson(
  kube: KubeEnv,
  kind: string,
  name: string,
  namespace: string,
  operations: unknown[],
): Promise<string> {
  return kube.kubectl(['patch', kind, name, '-n', namespace, '--type', 'json', '-p', JSON.stringify(operations)]);
}

/** kubectl apply of one object (written as YAML), as admin. */
export function applyObject(kube: KubeEnv, object: unknown): Promise<string> {
  return kube.kubectl(['apply', '-f', '-'], 'admin', stringify(object));
}

/** A namespaced collection of custom objects, as CustomObjectsApi names it. */
export interface CustomCollection {
  group: string;
  version: string;
  namespace: string;
  plural: string;
}

/** The VirtualService fields the tests read. */
export interface WatchedVirtualService {
  metadata: { name: string };
  spec: { http: { name?: string; route: { destination: { subset?: string }; weight?: number }[] }[] };
}

/**
 * The test's own view of a collection through the API server, as `kubeconfig`'s
 * user sees it: `onEvent` sees every version of every object, in the order the
 * watch delivers them. Started; stop it after the tests.
 */
export async function watchCollection<T extends { metadata: { name: string } }>(
  kubeconfig: KubeConfig,
  collection: CustomCollection,
  onEvent: (object: T) => void,
): Promise<Informer<T>> {
  const api = kubeconfig.makeApiClient(CustomObjectsApi);
  const { group, version, namespace, plural } = collection;
  const informer = new Informer<T>({
    kubeconfig,
    path: `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
    list: async () => (await api.listNamespacedCustomObject(collection)) as never,
    log: createLogger('test', 'error'),
    onEvent: (_phase, object) => onEvent(object),
  });
  await informer.start();
  return informer;
}

/** Where VirtualServices of `namespace` live, for CustomObjectsApi calls. */
export const virtualServices = (namespace: string) =>
  ({ group: 'networking.istio.io', version: 'v1beta1', namespace, plural: 'virtualservices' }) as const;

/** Where ModelRollouts of `namespace` live, for CustomObjectsApi calls. */
export const modelRollouts = (namespace: string) =>
  ({ group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL }) as const;
