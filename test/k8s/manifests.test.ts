// `kubectl kustomize manifests` renders the whole install, and what it renders
// holds together: least-privilege RBAC, hardened pods with probes, routing whose
// names and subsets match the example rollout, and scrape configs Prometheus accepts.
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { validateModelRollout } from '../../controller/src/api/validate.js';
import { packageRoot } from '../../shared/paths.js';

const run = promisify(execFile);

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: any;
}

async function render(): Promise<Doc[]> {
  const { stdout } = await run('kubectl', ['kustomize', path.join(packageRoot(), 'manifests')], {
    maxBuffer: 16 << 20,
  });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
}

const find = (docs: Doc[], kind: string, name: string) => {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!doc) throw new Error(`kustomize output has no ${kind} ${name}`);
  return doc;
};

describe('manifests/', () => {
  test('renders every object of the install', async () => {
    const docs = await render();
    const names = docs
      .map((d) => `${d.kind}/${d.metadata.namespace ? `${d.metadata.namespace}/` : ''}${d.metadata.name}`)
      .sort();
    expect(names).toEqual(
      [
        'CustomResourceDefinition/modelrollouts.weir.dev',
        'Namespace/weir-system',
        'Namespace/models',
        'ServiceAccount/weir-system/weir-controller',
        'ClusterRole/weir-controller',
        'ClusterRoleBinding/weir-controller',
        'Role/weir-system/weir-controller-leader-election',
        'RoleBinding/weir-system/weir-controller-leader-election',
        'ClusterRole/weir-approver',
        'ClusterRole/weir-viewer',
        'Deployment/weir-system/weir-controller',
        'Service/weir-system/weir-controller-metrics',
        'PodDisruptionBudget/weir-system/weir-controller',
        'Service/models/prediction-log',
        'Deployment/models/prediction-log',
        'NetworkPolicy/models/prediction-log',
        'Service/models/predictor',
        'Deployment/models/predictor-v1',
        'Deployment/models/predictor-v2',
        'PodDisruptionBudget/models/predictor-v1',
        'PodDisruptionBudget/models/predictor-v2',
        'HorizontalPodAutoscaler/models/predictor-v1',
        'HorizontalPodAutoscaler/models/predictor-v2',
        'DestinationRule/models/predictor',
        'VirtualService/models/predictor',
        'AuthorizationPolicy/models/predictor',
        'ServiceMonitor/models/predictor',
        'ServiceMonitor/weir-system/weir-controller',
        'ConfigMap/weir-system/weir-prometheus-scrape-config',
        'PrometheusRule/weir-system/weir',
        'ModelRollout/models/price-direction',
      ].sort(),
    );
  });

  test('controller RBAC: exactly what it uses, no wildcards, no secrets', async () => {
    const docs = await render();
    const cluster = find(docs, 'ClusterRole', 'weir-controller');
    expect(cluster.rules).toEqual([
      { apiGroups: ['weir.dev'], resources: ['modelrollouts'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['weir.dev'], resources: ['modelrollouts/status'], verbs: ['update'] },
      {
        apiGroups: ['networking.istio.io'],
        resources: ['virtualservices', 'destinationrules'],
        verbs: ['get', 'list', 'watch', 'patch'],
      },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    const leases = find(docs, 'Role', 'weir-controller-leader-election');
    expect(leases.metadata.namespace).toBe('weir-system');
    expect(leases.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    for (const role of docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role')) {
      const text = JSON.stringify(role.rules);
      expect(text).not.toContain('*');
      expect(text).not.toContain('secrets');
    }
    expect(find(docs, 'ClusterRole', 'weir-approver').rules).toEqual([
      { apiGroups: ['weir.dev'], resources: ['modelrollouts'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['weir.dev'], resources: ['modelrollouts/status'], verbs: ['get', 'update'] },
    ]);
    expect(find(docs, 'ClusterRoleBinding', 'weir-controller').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'weir-controller', namespace: 'weir-system' },
    ]);
  });

  test('pods: two leader-elected controllers and per-version predictors, non-root, read-only, probed', async () => {
    const docs = await render();
    const controller = find(docs, 'Deployment', 'weir-controller');
    expect(controller.spec.replicas).toBe(2);
    const pod = controller.spec.template.spec;
    expect(pod.serviceAccountName).toBe('weir-controller');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    const c = pod.containers[0];
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path]).toEqual(['/healthz', '/readyz']);
    expect(c.resources.limits).toBeDefined();
    expect(c.args).toEqual(
      expect.arrayContaining([
        'controller',
        expect.stringMatching(/^--prometheus=/),
        expect.stringMatching(/^--alertmanager=/),
      ]),
    );
    expect(c.env.map((e: { name: string }) => e.name)).toEqual(['NODE_OPTIONS', 'POD_NAME', 'POD_NAMESPACE']);
    for (const version of ['v1', 'v2']) {
      const deployment = find(docs, 'Deployment', `predictor-${version}`);
      expect(deployment.spec.template.metadata.labels).toMatchObject({ app: 'predictor', version });
      const p = deployment.spec.template.spec.containers[0];
      expect(p.args).toContain(`--version=${version}`);
      expect([p.readinessProbe.httpGet.path, p.livenessProbe.httpGet.path]).toEqual([
        '/v2/health/ready',
        '/v2/health/live',
      ]);
      expect(p.lifecycle.preStop.exec.command).toEqual(['sleep', '5']);
      expect(p.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(find(docs, 'PodDisruptionBudget', `predictor-${version}`).spec.selector.matchLabels).toEqual({
        app: 'predictor',
        version,
      });
      expect(find(docs, 'HorizontalPodAutoscaler', `predictor-${version}`).spec.scaleTargetRef.name).toBe(
        `predictor-${version}`,
      );
    }
  });

  test('the example rollout validates, and its route and subsets exist in the VirtualService and DestinationRule', async () => {
    const docs = await render();
    const example = find(docs, 'ModelRollout', 'price-direction');
    const { rollout, errors } = validateModelRollout(example);
    expect(errors).toEqual([]);
    const vs = find(docs, 'VirtualService', rollout!.spec.virtualService.name);
    const route = vs.spec.http.find((r: { name?: string }) => r.name === rollout!.spec.virtualService.route);
    expect(route.route.map((d: { destination: { subset: string } }) => d.destination.subset)).toEqual([
      rollout!.spec.stable.version,
      rollout!.spec.canary.version,
    ]);
    const dr = find(docs, 'DestinationRule', 'predictor');
    expect(dr.spec.subsets.map((s: { name: string }) => s.name)).toEqual(['v1', 'v2']);
    expect(dr.spec.trafficPolicy).toEqual(
      expect.objectContaining({ connectionPool: expect.any(Object), outlierDetection: expect.any(Object) }),
    );
    expect(route.route[0].destination.host).toBe(dr.spec.host);
  });

  test('the plain scrape_configs pass promtool check config', async () => {
    const docs = await render();
    const scrape = parse(find(docs, 'ConfigMap', 'weir-prometheus-scrape-config').data['scrape-configs.yaml']) as {
      job_name: string;
    }[];
    expect(scrape.map((j) => j.job_name)).toEqual(['weir-predictors', 'weir-controller']);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-promtool-'));
    try {
      // Debian's Prometheus is built without Kubernetes service discovery, so promtool
      // rejects kubernetes_sd_configs; with a static target in its place it still
      // checks everything else (relabel actions, regexes, label names, job names).
      const checkable = scrape.map(
        ({ kubernetes_sd_configs: _sd, ...job }: { job_name: string; kubernetes_sd_configs?: unknown }) => ({
          ...job,
          static_configs: [{ targets: ['127.0.0.1:1'] }],
        }),
      );
      expect(scrape.every((j) => 'kubernetes_sd_configs' in j)).toBe(true);
      await writeFile(
        path.join(dir, 'prometheus.yml'),
        stringify({ global: { scrape_interval: '15s' }, scrape_configs: checkable }),
      );
      const { stdout } = await run('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(stdout).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
