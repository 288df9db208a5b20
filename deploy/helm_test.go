package deploy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// The opentelemetry-collector chart's values.schema.json closes its top
// level (additionalProperties: false) and several sections: a key outside
// these lists makes `helm install` fail. Names as of the chart releases that
// ship collector 0.16x; extend them when the chart adds keys.
var (
	chartTopLevelKeys = []string{
		"enabled", "global", "nameOverride", "fullnameOverride", "mode", "namespaceOverride",
		"presets", "configMap", "alternateConfig", "config", "image", "imagePullSecrets",
		"command", "serviceAccount", "clusterRole", "podSecurityContext", "securityContext",
		"nodeSelector", "tolerations", "affinity", "topologySpreadConstraints",
		"priorityClassName", "extraContainers", "initContainers", "extraEnvs",
		"extraEnvsFrom", "extraVolumes", "extraVolumeMounts", "extraManifests", "ports",
		"resources", "lifecycleHooks", "livenessProbe", "readinessProbe", "startupProbe",
		"podAnnotations", "podLabels", "additionalLabels", "hostNetwork", "hostAliases",
		"dnsPolicy", "dnsConfig", "schedulerName", "replicaCount", "revisionHistoryLimit",
		"annotations", "service", "ingress", "podMonitor", "serviceMonitor",
		"podDisruptionBudget", "autoscaling", "rollout", "prometheusRule", "statefulset",
		"networkPolicy", "internalTelemetryViaOTLP", "useGOMEMLIMIT", "shareProcessNamespace",
	}
	chartClosedSections = map[string][]string{
		"image":          {"registry", "repository", "tag", "digest", "pullPolicy"},
		"command":        {"name", "extraArgs"},
		"serviceAccount": {"create", "annotations", "name", "automountServiceAccountToken"},
		"resources":      {"limits", "requests"},
	}
	chartPortKeys     = []string{"enabled", "containerPort", "servicePort", "hostPort", "nodePort", "protocol", "appProtocol"}
	chartResourceKeys = []string{"cpu", "memory", "ephemeral-storage"}
	// The chart's default ports (values.yaml), which `ports` entries merge over.
	chartDefaultPorts = map[string]int32{
		"otlp": 4317, "otlp-http": 4318, "jaeger-compact": 6831, "jaeger-thrift": 14268,
		"jaeger-grpc": 14250, "zipkin": 9411, "metrics": 8888,
	}
	// The chart's default probes ask port 13133.
	chartHealthPort int32 = 13133
)

func helmDir(t *testing.T) string { return filepath.Join(repoRoot(t), "deploy", "helm") }

func loadValuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	m, err := parseYAMLMap(readFile(t, filepath.Join(helmDir(t), name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// mergedValues merges values files in order, as `helm install -f a -f b`.
func mergedValues(t *testing.T, files ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range files {
		out = helmMerge(out, loadValuesFile(t, f))
	}
	return out
}

// chartConfig is the collector config the chart renders from values: the
// user's config merged over the chart's default config.
func chartConfig(t *testing.T, files ...string) map[string]any {
	t.Helper()
	defaults, err := parseYAMLMap(readFile(t, filepath.Join(repoRoot(t), "deploy", "testdata", "helm-chart-default-config.yaml")))
	if err != nil {
		t.Fatalf("chart default config: %v", err)
	}
	cfg := defaults
	for _, f := range files {
		user, ok := loadValuesFile(t, f)["config"].(map[string]any)
		if ok {
			cfg = helmMerge(cfg, user)
		}
	}
	return cfg
}

func TestHelmValuesFitTheChartSchema(t *testing.T) {
	for _, f := range []string{"values-argus.yaml", "values-argus-postgres.yaml", "values-gateway.yaml"} {
		for _, p := range chartSchemaProblems(loadValuesFile(t, f)) {
			t.Errorf("%s: %s", f, p)
		}
	}
	// The check must catch what the chart's schema rejects.
	bad := map[string]any{
		"terminationGracePeriodSeconds": 60.0,
		"image":                         map[string]any{"repo": "x"},
		"ports":                         map[string]any{"otlp": map[string]any{"port": 4317.0}},
		"resources":                     map[string]any{"limits": map[string]any{"mem": "1Gi"}},
		"serviceAccount":                map[string]any{"name": "x"},
		"mode":                          "job",
	}
	if got := len(chartSchemaProblems(bad)); got != 7 {
		t.Errorf("chartSchemaProblems found %d problems in the bad values, want 7: %v", got, chartSchemaProblems(bad))
	}
}

// chartSchemaProblems lists the keys of values the chart's schema rejects.
func chartSchemaProblems(v map[string]any) []string {
	var problems []string
	for _, k := range sortedKeys(v) {
		if !slices.Contains(chartTopLevelKeys, k) {
			problems = append(problems, fmt.Sprintf("%q is not a value of the opentelemetry-collector chart", k))
		}
		allowed, closed := chartClosedSections[k]
		sub, _ := v[k].(map[string]any)
		if closed {
			for _, sk := range sortedKeys(sub) {
				if !slices.Contains(allowed, sk) {
					problems = append(problems, fmt.Sprintf("%s.%s is not allowed by the chart schema", k, sk))
				}
			}
		}
	}
	res := lookupMap(v, "resources")
	for _, kind := range sortedKeys(res) {
		rm, _ := res[kind].(map[string]any)
		for _, rk := range sortedKeys(rm) {
			if !slices.Contains(chartResourceKeys, rk) {
				problems = append(problems, fmt.Sprintf("resources.%s.%s is not allowed by the chart schema", kind, rk))
			}
		}
	}
	ports := lookupMap(v, "ports")
	for _, name := range sortedKeys(ports) {
		pm, _ := ports[name].(map[string]any)
		if _, ok := pm["enabled"].(bool); !ok {
			problems = append(problems, fmt.Sprintf("ports.%s needs enabled: true|false", name))
		}
		for _, pk := range sortedKeys(pm) {
			if !slices.Contains(chartPortKeys, pk) {
				problems = append(problems, fmt.Sprintf("ports.%s.%s is not allowed by the chart schema", name, pk))
			}
		}
	}
	if sa := lookupMap(v, "serviceAccount"); sa != nil {
		if _, ok := sa["create"].(bool); !ok {
			problems = append(problems, "serviceAccount needs create (required by the chart schema)")
		}
	}
	if mode, ok := v["mode"]; ok && !slices.Contains([]any{"daemonset", "deployment", "statefulset"}, mode) {
		problems = append(problems, fmt.Sprintf("mode %v is not daemonset, deployment or statefulset", mode))
	}
	return problems
}

// helmArgus is what the gateway values check needs from the argus values.
type helmArgus struct {
	service  string // <fullname>.<namespace>
	grpcPort int32
}

func TestHelmArgusValues(t *testing.T) {
	setups := []struct {
		name     string
		files    []string
		replicas int
		driver   string
	}{
		{"sqlite", []string{"values-argus.yaml"}, 1, "sqlite"},
		{"postgres", []string{"values-argus.yaml", "values-argus-postgres.yaml"}, 3, "postgres"},
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			cfg, env, dataMount := checkHelmArgus(t, s.files, s.replicas, s.driver)
			if cfg == nil {
				return
			}
			t.Run("otelcol-argus validate", func(t *testing.T) {
				bin := testutil.CollectorBinary(t, "the otelcol-argus validate checks")
				resolved := validateAndResolve(t, bin, writeConfig(t, "relay.yaml", marshalYAML(t, cfg)), env)
				if resolved == nil {
					return
				}
				if got := lookupString(resolved, "exporters", "argus", "driver"); got != s.driver {
					t.Errorf("resolved driver %q, want %q", got, s.driver)
				}
				for what, p := range storagePaths(resolved) {
					if !under(p, dataMount) {
						t.Errorf("resolved %s = %s is not on the data volume %s", what, p, dataMount)
					}
				}
			})
		})
	}
}

// checkHelmArgus checks argus values files (merged in order) and returns
// the rendered config, the container environment and the data volume's
// mount path.
func checkHelmArgus(t *testing.T, files []string, replicas int, driver string) (map[string]any, map[string]string, string) {
	t.Helper()
	v := mergedValues(t, files...)
	dist := readBuilderDist(t)
	if v["mode"] != "statefulset" {
		t.Errorf("mode %v, want statefulset (each replica keeps its volume)", v["mode"])
	}
	if got := lookupString(v, "command", "name"); got != dist.Name {
		t.Errorf("command.name %q, want %q", got, dist.Name)
	}
	if repo := lookupString(v, "image", "repository"); !regexp.MustCompile(`/` + regexp.QuoteMeta(dist.Name) + `$`).MatchString(repo) {
		t.Errorf("image.repository %q, want .../%s", repo, dist.Name)
	}
	if tag := lookupString(v, "image", "tag"); tag != dist.Version {
		t.Errorf("image.tag %q, want %q (builder-config.yaml dist.version)", tag, dist.Version)
	}
	if got, _ := v["replicaCount"].(float64); int(got) != replicas {
		t.Errorf("replicaCount %v, want %d", v["replicaCount"], replicas)
	}
	checkHelmMemory(t, v)

	var envs []corev1.EnvVar
	decodeValue(t, v, "extraEnvs", &envs)
	env := map[string]string{"MY_POD_IP": placeholderPodIP} // set by the chart
	var dsnFromSecret bool
	for _, e := range envs {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = placeholderDSN
			dsnFromSecret = dsnFromSecret || e.Name == "ARGUS_DSN"
		default:
			env[e.Name] = placeholderPodIP
		}
	}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	var claims []corev1.PersistentVolumeClaim
	decodeValue(t, v, "extraVolumes", &volumes)
	decodeValue(t, v, "extraVolumeMounts", &mounts)
	if sts := lookupMap(v, "statefulset"); sts != nil {
		decodeValue(t, sts, "volumeClaimTemplates", &claims)
	}
	var psc corev1.PodSecurityContext
	var csc corev1.SecurityContext
	decodeValue(t, v, "podSecurityContext", &psc)
	decodeValue(t, v, "securityContext", &csc)
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("podSecurityContext.runAsNonRoot must be true")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("securityContext.readOnlyRootFilesystem must be true")
	}
	if len(claims) == 0 {
		t.Fatal("statefulset.volumeClaimTemplates is empty")
	}
	var dataMount string
	for _, m := range mounts {
		known := m.Name == claims[0].Name
		for _, vol := range volumes {
			known = known || vol.Name == m.Name
		}
		if !known {
			t.Errorf("extraVolumeMounts %s: no such volume or claim", m.Name)
		}
		if m.Name == claims[0].Name {
			dataMount = m.MountPath
		}
	}
	if dataMount == "" {
		t.Fatalf("volumeClaimTemplate %s is not mounted (extraVolumeMounts)", claims[0].Name)
	}

	cfg := chartConfig(t, files...)
	static, err := parseYAMLMap([]byte(expandEnv(string(marshalYAML(t, cfg)), env)))
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(lookupMap(static, "receivers")); !slices.Equal(got, []string{"otlp"}) {
		t.Errorf("rendered receivers %v, want [otlp]: null out the chart's default receivers", got)
	}
	for _, p := range pipelineProblems(static) {
		t.Errorf("rendered config: %s", p)
	}
	if got := lookupString(static, "exporters", "argus", "driver"); got != driver {
		t.Errorf("driver %q, want %q", got, driver)
	}
	if replicas > 1 && (driver != "postgres" || !dsnFromSecret) {
		t.Errorf("%d replicas need driver postgres with ARGUS_DSN from a Secret", replicas)
	}
	for what, p := range storagePaths(static) {
		if !under(p, dataMount) {
			t.Errorf("%s = %s is not on the data volume %s", what, p, dataMount)
		}
	}
	ports := enabledChartPorts(v)
	for what, ep := range listenEndpoints(static) {
		host, port := hostPort(t, ep)
		if host != placeholderPodIP && host != "0.0.0.0" {
			t.Errorf("%s listens on %s: unreachable from other pods", what, ep)
		}
		if what == "extensions::health_check" {
			if port != chartHealthPort {
				t.Errorf("health_check port %d, the chart's probes ask %d", port, chartHealthPort)
			}
			continue
		}
		if !slices.Contains(ports, port) {
			t.Errorf("%s port %d is not an enabled chart port %v", what, port, ports)
		}
	}
	return cfg, env, dataMount
}

func TestHelmGatewayValues(t *testing.T) {
	argusValues := mergedValues(t, "values-argus.yaml")
	argusCfg, err := parseYAMLMap([]byte(expandEnv(string(marshalYAML(t, chartConfig(t, "values-argus.yaml"))),
		map[string]string{"MY_POD_IP": placeholderPodIP})))
	if err != nil {
		t.Fatal(err)
	}
	_, argusPort := hostPort(t, lookupString(argusCfg, "receivers", "otlp", "protocols", "grpc", "endpoint"))
	_, argusTLS := lookup(argusCfg, "receivers", "otlp", "protocols", "grpc", "tls")
	argusNS := lookupString(argusValues, "namespaceOverride")
	argusName := lookupString(argusValues, "fullnameOverride")
	if argusNS == "" || argusName == "" {
		t.Fatal("values-argus.yaml: fullnameOverride and namespaceOverride fix the Service the gateway resolves")
	}

	v := mergedValues(t, "values-gateway.yaml")
	if v["mode"] != "deployment" {
		t.Errorf("gateway mode %v, want deployment (stateless)", v["mode"])
	}
	if repo := lookupString(v, "image", "repository"); repo != "otel/opentelemetry-collector-contrib" {
		t.Errorf("gateway image.repository %q", repo)
	}
	if tag := lookupString(v, "image", "tag"); !regexp.MustCompile(`^0\.165\.\d+$`).MatchString(tag) {
		t.Errorf("gateway image.tag %q, want 0.165.x", tag)
	}
	if got := lookupString(v, "command", "name"); got != "otelcol-contrib" {
		t.Errorf("gateway command.name %q, want otelcol-contrib", got)
	}
	checkHelmMemory(t, v)

	cfg, err := parseYAMLMap([]byte(expandEnv(string(marshalYAML(t, chartConfig(t, "values-gateway.yaml"))),
		map[string]string{"MY_POD_IP": placeholderPodIP})))
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(lookupMap(cfg, "receivers")); !slices.Equal(got, []string{"otlp"}) {
		t.Errorf("rendered gateway receivers %v, want [otlp]", got)
	}
	for _, p := range pipelineProblems(cfg) {
		t.Errorf("rendered gateway config: %s", p)
	}
	checkLoadBalancing(t, cfg, argusName+"."+argusNS, argusPort, argusTLS)

	// RBAC from extraManifests, for the chart's ServiceAccount.
	sa := lookupString(v, "serviceAccount", "name")
	if create, _ := lookup(v, "serviceAccount", "create"); create != true || sa == "" {
		t.Fatal("gateway values: serviceAccount.create true with a fixed name, bound by the Role below")
	}
	objs := newObjects()
	manifests, _ := v["extraManifests"].([]any)
	for i, m := range manifests {
		doc, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Errorf("extraManifests[%d]: %v", i, err)
			continue
		}
		if err := objs.add(obj); err != nil {
			t.Errorf("extraManifests[%d]: %v", i, err)
		}
	}
	gwNS := lookupString(v, "namespaceOverride")
	if !canWatchEndpoints(objs, sa, gwNS, argusNS) {
		t.Errorf("extraManifests do not let ServiceAccount %s/%s get/list/watch endpoints and endpointslices in %s", gwNS, sa, argusNS)
	}
}

// checkHelmMemory: GOMEMLIMIT comes from the chart (80% of the limit), so
// the limit must be set.
func checkHelmMemory(t *testing.T, v map[string]any) {
	t.Helper()
	if v["useGOMEMLIMIT"] != true {
		t.Error("useGOMEMLIMIT must be true")
	}
	mem := lookupString(v, "resources", "limits", "memory")
	if mem == "" {
		t.Error("resources.limits.memory must be set (GOMEMLIMIT and memory_limiter derive from it)")
		return
	}
	q := quantity(mem)
	limits := corev1.ResourceList{corev1.ResourceMemory: q}
	env := []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: strconv.FormatInt(q.Value()*8/10, 10)}}
	checkGoMemLimit(t, "chart", env, limits)
}

// decodeValue decodes values[key] strictly into an API type.
func decodeValue(t *testing.T, values map[string]any, key string, into any) {
	t.Helper()
	raw, ok := values[key]
	if !ok {
		return
	}
	doc, err := yaml.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeInto(doc, into); err != nil {
		t.Errorf("%s: %v", key, err)
	}
}

// enabledChartPorts are the container ports the chart opens: its default
// ports (all on but metrics) as the values switch and move them.
func enabledChartPorts(v map[string]any) []int32 {
	var out []int32
	for name, port := range chartDefaultPorts {
		enabled := name != "metrics"
		p := lookupMap(v, "ports", name)
		if on, ok := p["enabled"].(bool); ok {
			enabled = on
		}
		if cp, ok := p["containerPort"].(float64); ok {
			port = int32(cp)
		}
		if enabled {
			out = append(out, port)
		}
	}
	return out
}

func marshalYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
