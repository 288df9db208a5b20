package deploy

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// repoRoot is the module root: go test runs in this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found above %s: %v", root, err)
	}
	return root
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocuments cuts a multi-document YAML stream on its "---" lines and
// drops documents holding only comments or blanks.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(data), -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			l := strings.TrimSpace(line)
			if l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// apiKinds are the Kubernetes kinds the manifests may use, each with the
// Go type its documents must decode into.
var apiKinds = map[string]func() any{
	"v1/Namespace":                             func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":                        func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                             func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                func() any { return &corev1.Secret{} },
	"v1/Service":                               func() any { return &corev1.Service{} },
	"apps/v1/StatefulSet":                      func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":                       func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":            func() any { return &policyv1.PodDisruptionBudget{} },
	"rbac.authorization.k8s.io/v1/Role":        func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding": func() any { return &rbacv1.RoleBinding{} },
}

// decodeStrict decodes one YAML document into the API type its apiVersion
// and kind name, the way the API server reads it: case-sensitive field
// names, no unknown fields, no duplicate keys, values of the right type.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if _, err := k8sjson.UnmarshalStrict(js, &tm, k8sjson.DisallowDuplicateFields); err != nil {
		return nil, err
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, fmt.Errorf("document without apiVersion or kind")
	}
	ctor, ok := apiKinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("%s %s: kind not expected in these manifests", tm.APIVersion, tm.Kind)
	}
	obj := ctor()
	strictErrs, err := k8sjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("%s: %w", tm.Kind, joinErrors(strictErrs))
	}
	return obj, nil
}

// decodeInto decodes YAML (a values fragment) strictly into one API type.
func decodeInto(doc []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := k8sjson.UnmarshalStrict(js, v)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return joinErrors(strictErrs)
	}
	return nil
}

func joinErrors(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// objects is a decoded set of manifests, by kind and then by name.
type objects struct {
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	accounts     map[string]*corev1.ServiceAccount
	namespaces   map[string]*corev1.Namespace
	roles        map[string]*rbacv1.Role
	bindings     map[string]*rbacv1.RoleBinding
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

func newObjects() *objects {
	return &objects{
		statefulSets: map[string]*appsv1.StatefulSet{},
		deployments:  map[string]*appsv1.Deployment{},
		services:     map[string]*corev1.Service{},
		configMaps:   map[string]*corev1.ConfigMap{},
		secrets:      map[string]*corev1.Secret{},
		accounts:     map[string]*corev1.ServiceAccount{},
		namespaces:   map[string]*corev1.Namespace{},
		roles:        map[string]*rbacv1.Role{},
		bindings:     map[string]*rbacv1.RoleBinding{},
		pdbs:         map[string]*policyv1.PodDisruptionBudget{},
	}
}

// add files a decoded object; a second object of the same kind and name is
// an error (kubectl apply would silently keep only one).
func (o *objects) add(obj any) error {
	var name string
	var dup bool
	switch v := obj.(type) {
	case *appsv1.StatefulSet:
		name, dup = put(o.statefulSets, v.Name, v)
	case *appsv1.Deployment:
		name, dup = put(o.deployments, v.Name, v)
	case *corev1.Service:
		name, dup = put(o.services, v.Name, v)
	case *corev1.ConfigMap:
		name, dup = put(o.configMaps, v.Name, v)
	case *corev1.Secret:
		name, dup = put(o.secrets, v.Name, v)
	case *corev1.ServiceAccount:
		name, dup = put(o.accounts, v.Name, v)
	case *corev1.Namespace:
		name, dup = put(o.namespaces, v.Name, v)
	case *rbacv1.Role:
		name, dup = put(o.roles, v.Name, v)
	case *rbacv1.RoleBinding:
		name, dup = put(o.bindings, v.Name, v)
	case *policyv1.PodDisruptionBudget:
		name, dup = put(o.pdbs, v.Name, v)
	default:
		return fmt.Errorf("unhandled type %T", obj)
	}
	if name == "" {
		return fmt.Errorf("%T without metadata.name", obj)
	}
	if dup {
		return fmt.Errorf("%T %q defined twice", obj, name)
	}
	return nil
}

// put files v under name in m and reports the name and whether it was there.
func put[T any](m map[string]*T, name string, v *T) (string, bool) {
	_, dup := m[name]
	m[name] = v
	return name, dup
}

// decodeStream decodes every document of a YAML stream into objs.
func decodeStream(data []byte, objs *objects) error {
	for i, doc := range splitDocuments(data) {
		obj, err := decodeStrict(doc)
		if err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
		if err := objs.add(obj); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return nil
}

// --- collector configs as plain maps ---

// parseYAMLMap reads YAML into JSON-like maps (numbers become float64).
func parseYAMLMap(data []byte) (map[string]any, error) {
	var m map[string]any
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("empty document")
	}
	return m, nil
}

// lookup walks nested maps: lookup(cfg, "exporters", "argus", "driver").
func lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func lookupString(m map[string]any, path ...string) string {
	v, _ := lookup(m, path...)
	s, _ := v.(string)
	return s
}

func lookupMap(m map[string]any, path ...string) map[string]any {
	v, _ := lookup(m, path...)
	mm, _ := v.(map[string]any)
	return mm
}

func stringList(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// componentType is the type part of a component id ("file_storage/queue").
func componentType(id string) string {
	typ, _, _ := strings.Cut(id, "/")
	return typ
}

// helmMerge merges values over base the way Helm coalesces values files:
// maps merge key by key, any other value (lists included) replaces, and a
// null removes the key.
func helmMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		switch ov := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = helmMerge(bm, ov)
			} else {
				out[k] = helmMerge(nil, ov)
			}
		default:
			out[k] = v
		}
	}
	return out
}

// pipelineProblems reports pipelines that do not start with memory_limiter
// and pipeline entries naming components the config does not define.
func pipelineProblems(cfg map[string]any) []string {
	var problems []string
	pipelines := lookupMap(cfg, "service", "pipelines")
	if len(pipelines) == 0 {
		return []string{"no service::pipelines"}
	}
	for _, name := range sortedKeys(pipelines) {
		p, _ := pipelines[name].(map[string]any)
		procs := stringList(p["processors"])
		if len(procs) == 0 || componentType(procs[0]) != "memory_limiter" {
			problems = append(problems, fmt.Sprintf("pipeline %s: processors %v do not start with memory_limiter", name, procs))
		}
		for _, section := range []string{"receivers", "processors", "exporters"} {
			for _, id := range stringList(p[section]) {
				if _, ok := lookup(cfg, section, id); !ok {
					problems = append(problems, fmt.Sprintf("pipeline %s: %s %q is not defined", name, section, id))
				}
			}
		}
		problems = append(problems, durabilityProblems(cfg, name, p)...)
	}
	return problems
}

// durabilityProblems checks that an acknowledged span or audit record has
// exactly one durable copy before it is written, as config.yaml ships:
// behind the argusdetector, its write-ahead log, with the argus exporter's
// queue in memory and wait_for_result (a record is released only once its
// rows are written; a persistent queue would be a second copy on disk);
// without the detector, a persistent queue or wait_for_result (the client
// is acknowledged only once the rows are written).
func durabilityProblems(cfg map[string]any, name string, p map[string]any) []string {
	var problems []string
	detector := ""
	for _, id := range stringList(p["processors"]) {
		if componentType(id) == "argusdetector" {
			detector = id
		}
	}
	if detector != "" && lookupString(cfg, "processors", detector, "wal", "storage") == "" {
		problems = append(problems, fmt.Sprintf("pipeline %s: %s has no wal.storage: acknowledged spans buffered in it are lost on a crash", name, detector))
	}
	for _, id := range stringList(p["exporters"]) {
		if componentType(id) != "argus" {
			continue
		}
		q := lookupMap(cfg, "exporters", id, "sending_queue")
		if q == nil || q["enabled"] == false {
			continue // no queue: the call itself returns the result
		}
		wait := q["wait_for_result"] == true
		persistent, _ := q["storage"].(string)
		switch {
		case detector != "" && !wait:
			problems = append(problems, fmt.Sprintf("pipeline %s: exporter %s after %s needs sending_queue::wait_for_result: true, or the write-ahead log releases spans the queue still holds in memory", name, id, detector))
		case detector != "" && persistent != "":
			problems = append(problems, fmt.Sprintf("pipeline %s: exporter %s after %s has a persistent queue (%s): a second durable copy of what the write-ahead log holds", name, id, detector, persistent))
		case detector == "" && !wait && persistent == "":
			problems = append(problems, fmt.Sprintf("pipeline %s: exporter %s acknowledges into an in-memory queue: set sending_queue::storage or wait_for_result", name, id))
		}
	}
	return problems
}

// hostPort splits an endpoint "host:port".
func hostPort(t *testing.T, endpoint string) (string, int32) {
	t.Helper()
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatalf("endpoint %q: port: %v", endpoint, err)
	}
	return host, int32(n)
}

// goMemLimitBytes parses a GOMEMLIMIT value (a number with an optional
// B/KiB/MiB/GiB/TiB suffix, as the Go runtime accepts it).
func goMemLimitBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("GOMEMLIMIT %q: %v", s, err)
			}
			return n * u.mult, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("GOMEMLIMIT %q: %v", s, err)
	}
	return n, nil
}

// checkGoMemLimit wants GOMEMLIMIT at 70-90% of the memory limit: lower
// wastes the container, higher leaves the GC no room before the OOM killer.
func checkGoMemLimit(t *testing.T, who string, env []corev1.EnvVar, limits corev1.ResourceList) {
	t.Helper()
	limit, ok := limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("%s: no memory limit", who)
		return
	}
	var value string
	for _, e := range env {
		if e.Name == "GOMEMLIMIT" {
			value = e.Value
		}
	}
	if value == "" {
		t.Errorf("%s: no GOMEMLIMIT", who)
		return
	}
	n, err := goMemLimitBytes(value)
	if err != nil {
		t.Errorf("%s: %v", who, err)
		return
	}
	ratio := float64(n) / float64(limit.Value())
	if ratio < 0.7 || ratio > 0.9 {
		t.Errorf("%s: GOMEMLIMIT %s is %.0f%% of the memory limit %s, want 70-90%%", who, value, ratio*100, limit.String())
	}
}

func quantity(s string) resource.Quantity { return resource.MustParse(s) }

// --- the otelcol-argus binary ---

// collectorEnv is the test process's environment without the variables the
// configs read, plus env: each run sees exactly what the deployment sets.
func collectorEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ARGUS_") || name == "MY_POD_IP" || name == "GOMEMLIMIT" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func runCollector(t *testing.T, bin string, env map[string]string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = collectorEnv(env)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return stdout.Bytes(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), args[0], err, stderr.String())
		}
		return stdout.Bytes(), nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("%s %s: no answer within 60s", filepath.Base(bin), args[0])
	}
}

// writeConfig puts a config into a temp file for the binary.
func writeConfig(t *testing.T, name string, cfg []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// validateAndResolve runs `otelcol-argus validate` on the config file with
// env, then `print-config` to get the configuration as the collector
// resolves it (env substitution and component defaults applied).
func validateAndResolve(t *testing.T, bin, path string, env map[string]string, flags ...string) map[string]any {
	t.Helper()
	if _, err := runCollector(t, bin, env, append([]string{"validate", "--config=" + path}, flags...)...); err != nil {
		t.Errorf("otelcol-argus validate %s: %v", filepath.Base(path), err)
		return nil
	}
	out, err := runCollector(t, bin, env, append([]string{"print-config", "--mode=unredacted", "--config=" + path}, flags...)...)
	if err != nil {
		t.Errorf("otelcol-argus print-config %s: %v", filepath.Base(path), err)
		return nil
	}
	var resolved map[string]any
	if err := yaml.Unmarshal(out, &resolved); err != nil {
		t.Fatalf("print-config output: %v", err)
	}
	return resolved
}

// listenEndpoints are the server endpoints of a resolved config: receiver
// protocols, extensions and the collector's Prometheus metrics, by id.
func listenEndpoints(cfg map[string]any) map[string]string {
	out := map[string]string{}
	for id, v := range lookupMap(cfg, "receivers") {
		rc, _ := v.(map[string]any)
		if ep, ok := rc["endpoint"].(string); ok && ep != "" {
			out["receivers::"+id] = ep
		}
		protocols, _ := rc["protocols"].(map[string]any)
		for proto, pv := range protocols {
			pc, _ := pv.(map[string]any)
			if ep, ok := pc["endpoint"].(string); ok && ep != "" {
				out["receivers::"+id+"::"+proto] = ep
			}
		}
	}
	for id, v := range lookupMap(cfg, "extensions") {
		ec, _ := v.(map[string]any)
		// health_check's component-status form serves only its http and
		// grpc sections (the legacy endpoint keeps its default, unused).
		nested := false
		for _, proto := range []string{"http", "grpc"} {
			pc, _ := ec[proto].(map[string]any)
			if ep, ok := pc["endpoint"].(string); ok && ep != "" {
				out["extensions::"+id+"::"+proto] = ep
				nested = true
			}
		}
		if ep, ok := ec["endpoint"].(string); ok && ep != "" && !nested {
			out["extensions::"+id] = ep
		}
	}
	// The collector's own metrics: a Prometheus reader's host and port.
	readers, _ := lookup(cfg, "service", "telemetry", "metrics", "readers")
	items, _ := readers.([]any)
	for i, r := range items {
		prom := lookupMap(map[string]any{"r": r}, "r", "pull", "exporter", "prometheus")
		if host, ok := prom["host"].(string); ok && prom["port"] != nil {
			out[fmt.Sprintf("service::telemetry::metrics::readers::%d", i)] = net.JoinHostPort(host, fmt.Sprint(prom["port"]))
		}
	}
	return out
}

// storagePaths are the files and directories a resolved argus config
// writes: the SQLite database and each file_storage directory.
func storagePaths(cfg map[string]any) map[string]string {
	out := map[string]string{}
	for id, v := range lookupMap(cfg, "exporters") {
		if componentType(id) != "argus" {
			continue
		}
		ec, _ := v.(map[string]any)
		if d, _ := ec["driver"].(string); d == "sqlite" {
			if p, ok := ec["path"].(string); ok {
				out["exporters::"+id+"::path"] = p
			}
		}
	}
	for id, v := range lookupMap(cfg, "extensions") {
		if componentType(id) != "file_storage" {
			continue
		}
		ec, _ := v.(map[string]any)
		if d, ok := ec["directory"].(string); ok {
			out["extensions::"+id+"::directory"] = d
		}
		// The compaction directory is used only when compaction runs.
		comp, _ := ec["compaction"].(map[string]any)
		if comp["on_start"] == true || comp["on_rebound"] == true {
			if d, ok := comp["directory"].(string); ok {
				out["extensions::"+id+"::compaction::directory"] = d
			}
		}
	}
	return out
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// builderDist is the dist section of builder-config.yaml.
type builderDist struct {
	Name       string `json:"name"`
	OutputPath string `json:"output_path"`
	Version    string `json:"version"`
}

func readBuilderDist(t *testing.T) builderDist {
	t.Helper()
	var cfg struct {
		Dist builderDist `json:"dist"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(repoRoot(t), "builder-config.yaml")), &cfg); err != nil {
		t.Fatalf("builder-config.yaml: %v", err)
	}
	if cfg.Dist.Name == "" || cfg.Dist.Version == "" || cfg.Dist.OutputPath == "" {
		t.Fatalf("builder-config.yaml: dist name/version/output_path missing: %+v", cfg.Dist)
	}
	return cfg.Dist
}
