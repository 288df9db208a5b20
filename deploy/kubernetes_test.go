package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

func kubernetesDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "deploy", "kubernetes")
}

// Every YAML file under deploy/kubernetes decodes strictly: manifests into
// their API types, kustomization files into kustomize's own type, and each
// file a kustomization directory holds is used by it.
func TestManifestFilesDecodeStrictly(t *testing.T) {
	root := kubernetesDir(t)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d YAML files under %s", len(files), root)
	}
	used := map[string]bool{}
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		data := readFile(t, path)
		if filepath.Base(path) == "kustomization.yaml" {
			for _, ref := range checkKustomizationFile(t, rel, data) {
				used[filepath.Join(filepath.Dir(path), ref)] = true
			}
			continue
		}
		if err := decodeStream(data, newObjects()); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	// A manifest next to a kustomization.yaml that it does not list would be
	// silently left out of `kubectl apply -k`.
	for _, path := range files {
		dir := filepath.Dir(path)
		if filepath.Base(path) == "kustomization.yaml" || strings.HasSuffix(path, ".example.yaml") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err == nil && !used[path] {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s is not listed in its directory's kustomization.yaml", rel)
		}
	}
}

// checkKustomizationFile decodes a kustomization strictly and checks that
// what it names exists; it returns the local files it uses.
func checkKustomizationFile(t *testing.T, rel string, data []byte) []string {
	t.Helper()
	var k types.Kustomization
	if err := decodeInto(data, &k); err != nil {
		t.Errorf("%s: %v", rel, err)
		return nil
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s: apiVersion/kind = %s/%s, want kustomize.config.k8s.io/v1beta1/Kustomization", rel, k.APIVersion, k.Kind)
	}
	if len(k.Resources) == 0 {
		t.Errorf("%s: no resources", rel)
	}
	dir := filepath.Join(kubernetesDir(t), filepath.Dir(rel))
	var refs []string
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("%s: resource %s: %v", rel, r, err)
		}
		refs = append(refs, r)
	}
	for _, p := range k.Patches {
		if p.Path == "" {
			if p.Patch == "" {
				t.Errorf("%s: patch with neither path nor patch", rel)
			}
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, p.Path)); err != nil {
			t.Errorf("%s: patch %s: %v", rel, p.Path, err)
		}
		refs = append(refs, p.Path)
	}
	return refs
}

// The checker itself must refuse what the API server refuses.
func TestDecodeStrictRejects(t *testing.T) {
	cases := map[string]string{
		"unknown field":  "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  clusterIp: None\n",
		"wrong case":     "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nSpec: {}\n",
		"wrong type":     "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  replicas: three\n",
		"duplicate key":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n",
		"unknown kind":   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"no kind":        "metadata: {name: x}\n",
		"data not a map": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: 3\n",
		"bad quantity": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n" +
			"      containers:\n        - name: c\n          resources: {limits: {memory: 2 gigs}}\n",
	}
	for name, doc := range cases {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error:\n%s", name, doc)
		}
	}
	good := "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  clusterIP: None\n"
	if _, err := decodeStrict([]byte(good)); err != nil {
		t.Errorf("valid Service rejected: %v", err)
	}
	if got := len(splitDocuments([]byte("# c\n---\na: 1\n---\n\n---\nb: 2\n"))); got != 2 {
		t.Errorf("splitDocuments: %d documents, want 2", got)
	}
}

// kustomizeBuild renders a kustomization directory, as `kubectl apply -k`
// would, and decodes the result strictly.
func kustomizeBuild(t *testing.T, dir string) *objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(kubernetesDir(t), dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs := newObjects()
	if err := decodeStream(out, objs); err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return objs
}

// argusSetup is one way to run the argus tier.
type argusSetup struct {
	dir      string
	replicas int32
	driver   string
}

var argusSetups = []argusSetup{
	{dir: ".", replicas: 1, driver: "sqlite"},
	{dir: "sqlite", replicas: 1, driver: "sqlite"},
	{dir: "postgres", replicas: 3, driver: "postgres"},
}

func TestKustomizeSetups(t *testing.T) {
	for _, s := range argusSetups {
		t.Run(s.dir, func(t *testing.T) {
			objs := kustomizeBuild(t, s.dir)
			a := checkArgusTier(t, objs, s)
			if a == nil {
				return
			}
			checkGatewayTier(t, objs, a)
			t.Run("otelcol-argus validate", func(t *testing.T) {
				bin := testutil.CollectorBinary(t, "the otelcol-argus validate checks")
				path := writeConfig(t, "argus.yaml", []byte(a.configText))
				resolved := validateAndResolve(t, bin, path, a.env)
				if resolved == nil {
					return
				}
				if got := lookupString(resolved, "exporters", "argus", "driver"); got != s.driver {
					t.Errorf("resolved driver %q, want %q", got, s.driver)
				}
				for what, p := range storagePaths(resolved) {
					if !under(p, a.dataMount) {
						t.Errorf("resolved %s = %s is not on the data volume %s", what, p, a.dataMount)
					}
				}
			})
		})
	}
}

// argusTier is what the gateway checks need from the argus checks.
type argusTier struct {
	namespace  string
	headless   *corev1.Service
	grpcPort   int32 // the argus container's OTLP gRPC port
	grpcTLS    bool  // the argus receiver serves TLS
	configText string
	env        map[string]string
	dataMount  string
}

// Placeholders for values a cluster fills in: validate reads but does not
// use them (no connection is made).
const (
	placeholderDSN   = "postgres://argus:secret@127.0.0.1:5432/argus?sslmode=disable"
	placeholderPodIP = "10.0.0.7"
)

func checkArgusTier(t *testing.T, objs *objects, s argusSetup) *argusTier {
	t.Helper()
	dist := readBuilderDist(t)
	sts := objs.statefulSets["argus"]
	if sts == nil {
		t.Fatal("no StatefulSet argus")
	}
	a := &argusTier{namespace: sts.Namespace, env: map[string]string{}}
	if a.namespace == "" {
		t.Error("StatefulSet argus has no namespace")
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != s.replicas {
		t.Errorf("argus replicas = %v, want %d", sts.Spec.Replicas, s.replicas)
	}
	pod := &sts.Spec.Template
	checkSelector(t, "StatefulSet argus", sts.Spec.Selector, pod)

	a.headless = objs.services[sts.Spec.ServiceName]
	if a.headless == nil {
		t.Fatalf("StatefulSet serviceName %q: no such Service", sts.Spec.ServiceName)
	}
	if a.headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s: clusterIP %q, want None (headless)", a.headless.Name, a.headless.Spec.ClusterIP)
	}
	if a.headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s publishes not-ready pods: the gateway would route to replicas that cannot take traces", a.headless.Name)
	}

	c := findContainer(t, pod, "argus")
	if c == nil {
		return nil
	}
	wantImage := regexp.MustCompile(`/` + regexp.QuoteMeta(dist.Name) + `:` + regexp.QuoteMeta(dist.Version) + `$`)
	if !wantImage.MatchString(c.Image) {
		t.Errorf("argus image %q, want .../%s:%s (builder-config.yaml dist)", c.Image, dist.Name, dist.Version)
	}
	configPath, text := containerConfig(t, objs, pod, c)
	a.configText = text

	secrets := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			a.env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			a.env[e.Name] = placeholderDSN
			secrets[e.Name] = e.ValueFrom.SecretKeyRef.Name
		case e.ValueFrom.FieldRef != nil:
			a.env[e.Name] = placeholderPodIP
		default:
			t.Errorf("env %s: unsupported valueFrom", e.Name)
		}
	}
	raw, err := parseYAMLMap([]byte(text))
	if err != nil {
		t.Fatalf("argus config %s: %v", configPath, err)
	}
	cfg, err := parseYAMLMap([]byte(expandEnv(text, a.env)))
	if err != nil {
		t.Fatalf("argus config %s (env applied): %v", configPath, err)
	}

	driver := lookupString(cfg, "exporters", "argus", "driver")
	if driver != s.driver {
		t.Errorf("argus driver %q, want %q", driver, s.driver)
	}
	if s.replicas > 1 && driver != "postgres" {
		t.Errorf("%d replicas on driver %q: only PostgreSQL is shared between replicas", s.replicas, driver)
	}
	if driver == "postgres" {
		if secrets["ARGUS_DSN"] == "" {
			t.Error("driver postgres: ARGUS_DSN must come from a Secret (secretKeyRef)")
		}
		if dsn := lookupString(raw, "exporters", "argus", "dsn"); !strings.Contains(dsn, "${env:ARGUS_DSN") {
			t.Errorf("exporters::argus::dsn = %q, want it read from ${env:ARGUS_DSN}", dsn)
		}
	}
	for _, p := range pipelineProblems(cfg) {
		t.Errorf("argus config: %s", p)
	}

	endpoints := listenEndpoints(cfg)
	checkEndpoints(t, "argus", endpoints, c)
	checkProbes(t, "argus", cfg, c, true)
	grpc, ok := endpoints["receivers::otlp::grpc"]
	if !ok {
		t.Fatal("argus config: no receivers::otlp::protocols::grpc endpoint")
	}
	_, a.grpcPort = hostPort(t, grpc)
	_, a.grpcTLS = lookup(cfg, "receivers", "otlp", "protocols", "grpc", "tls")
	if !servicePortTargets(t, a.headless, c, a.grpcPort) {
		t.Errorf("Service %s has no port targeting the argus OTLP gRPC port %d", a.headless.Name, a.grpcPort)
	}
	for _, svc := range objs.services {
		if selects(svc.Spec.Selector, pod.Labels) {
			for _, p := range svc.Spec.Ports {
				if _, ok := containerPort(c, p.TargetPort); !ok {
					t.Errorf("Service %s port %s: targetPort %s is not an argus container port", svc.Name, p.Name, p.TargetPort.String())
				}
			}
		}
	}
	if svc := objs.services["argus"]; svc == nil || !selects(svc.Spec.Selector, pod.Labels) {
		t.Error("no Service argus selecting the argus pods (plain OTLP Service)")
	}

	// Storage: every file the config writes lives on the claimed volume
	// (the root filesystem is read-only).
	if len(sts.Spec.VolumeClaimTemplates) == 0 {
		t.Fatal("StatefulSet argus has no volumeClaimTemplates")
	}
	claim := sts.Spec.VolumeClaimTemplates[0].Name
	for _, m := range c.VolumeMounts {
		if m.Name == claim {
			a.dataMount = m.MountPath
		}
	}
	if a.dataMount == "" {
		t.Fatalf("volumeClaimTemplate %s is not mounted in the argus container", claim)
	}
	paths := storagePaths(cfg)
	if driver == "sqlite" && paths["exporters::argus::path"] == "" {
		t.Error("driver sqlite without exporters::argus::path")
	}
	for what, p := range paths {
		if !under(p, a.dataMount) {
			t.Errorf("%s = %s is not on the data volume %s", what, p, a.dataMount)
		}
	}
	if q := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.IsZero() {
		t.Error("volumeClaimTemplate without a storage request")
	}

	checkPodSecurity(t, "argus", pod, c)
	checkResources(t, "argus", c)
	checkPDB(t, objs, "argus", sts.Namespace, pod)
	if name := pod.Spec.ServiceAccountName; name != "" && objs.accounts[name] == nil {
		t.Errorf("argus ServiceAccount %q is not defined", name)
	}
	return a
}

func checkGatewayTier(t *testing.T, objs *objects, a *argusTier) {
	t.Helper()
	dep := objs.deployments["argus-gateway"]
	if dep == nil {
		t.Fatal("no Deployment argus-gateway")
	}
	pod := &dep.Spec.Template
	checkSelector(t, "Deployment argus-gateway", dep.Spec.Selector, pod)
	c := findContainer(t, pod, "gateway")
	if c == nil {
		return
	}
	if !regexp.MustCompile(`^otel/opentelemetry-collector-contrib:0\.165\.\d+$`).MatchString(c.Image) {
		t.Errorf("gateway image %q, want otel/opentelemetry-collector-contrib:0.165.x", c.Image)
	}
	_, text := containerConfig(t, objs, pod, c)
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		} else {
			env[e.Name] = placeholderPodIP
		}
	}
	cfg, err := parseYAMLMap([]byte(expandEnv(text, env)))
	if err != nil {
		t.Fatalf("gateway config: %v", err)
	}
	checkLoadBalancing(t, cfg, a.headless.Name+"."+a.namespace, a.grpcPort, a.grpcTLS)
	for _, p := range pipelineProblems(cfg) {
		t.Errorf("gateway config: %s", p)
	}
	endpoints := listenEndpoints(cfg)
	checkEndpoints(t, "gateway", endpoints, c)
	checkProbes(t, "gateway", cfg, c, false)

	svc := objs.services["argus-gateway"]
	if svc == nil || !selects(svc.Spec.Selector, pod.Labels) {
		t.Fatal("no Service argus-gateway selecting the gateway pods")
	}
	for _, proto := range []string{"grpc", "http"} {
		ep, ok := endpoints["receivers::otlp::"+proto]
		if !ok {
			t.Errorf("gateway config: no OTLP %s receiver", proto)
			continue
		}
		_, port := hostPort(t, ep)
		if !servicePortTargets(t, svc, c, port) {
			t.Errorf("Service argus-gateway has no port for OTLP %s (%d)", proto, port)
		}
	}

	// The k8s resolver lists the headless Service's endpoints with the
	// gateway's ServiceAccount.
	sa := pod.Spec.ServiceAccountName
	if sa == "" || objs.accounts[sa] == nil {
		t.Fatalf("gateway ServiceAccount %q is not defined", sa)
	}
	if am := objs.accounts[sa].AutomountServiceAccountToken; am != nil && !*am {
		t.Error("gateway ServiceAccount disables its token: the resolver cannot reach the API")
	}
	if am := pod.Spec.AutomountServiceAccountToken; am != nil && !*am {
		t.Error("gateway pod disables the ServiceAccount token: the resolver cannot reach the API")
	}
	if !canWatchEndpoints(objs, sa, dep.Namespace, a.namespace) {
		t.Errorf("ServiceAccount %s/%s may not get/list/watch endpoints and endpointslices in namespace %s",
			dep.Namespace, sa, a.namespace)
	}
	checkPodSecurity(t, "gateway", pod, c)
	checkResources(t, "gateway", c)
	checkPDB(t, objs, "gateway", dep.Namespace, pod)
}

// checkLoadBalancing checks the gateway's loadbalancing exporter: trace-ID
// routing, the k8s resolver on the argus headless Service and its port.
func checkLoadBalancing(t *testing.T, cfg map[string]any, wantService string, wantPort int32, argusTLS bool) {
	t.Helper()
	lb := lookupMap(cfg, "exporters", "loadbalancing")
	if lb == nil {
		t.Fatal("gateway config: no exporters::loadbalancing")
	}
	if rk := lb["routing_key"]; rk != "traceID" {
		t.Errorf("loadbalancing routing_key = %v, want traceID (whole traces to one replica)", rk)
	}
	k8s := lookupMap(lb, "resolver", "k8s")
	if k8s == nil {
		t.Fatal("loadbalancing: no resolver::k8s")
	}
	if others := len(lookupMap(lb, "resolver")); others != 1 {
		t.Errorf("loadbalancing: %d resolvers, want only k8s", others)
	}
	if svc := k8s["service"]; svc != wantService {
		t.Errorf("loadbalancing resolver::k8s::service = %v, want %s", svc, wantService)
	}
	ports, _ := k8s["ports"].([]any)
	if len(ports) != 1 || ports[0] != float64(wantPort) {
		t.Errorf("loadbalancing resolver::k8s::ports = %v, want [%d] (the argus OTLP gRPC port)", k8s["ports"], wantPort)
	}
	otlp := lookupMap(lb, "protocol", "otlp")
	if otlp == nil {
		t.Fatal("loadbalancing: no protocol::otlp")
	}
	if _, ok := otlp["endpoint"]; ok {
		t.Error("loadbalancing protocol::otlp sets endpoint: the resolver provides it")
	}
	if insecure, _ := lookup(otlp, "tls", "insecure"); !argusTLS && insecure != true {
		t.Error("the argus receiver serves plain gRPC: loadbalancing protocol::otlp::tls::insecure must be true")
	}
	pipelines := lookupMap(cfg, "service", "pipelines")
	for _, name := range []string{"traces", "logs"} {
		if _, ok := pipelines[name]; !ok {
			t.Errorf("gateway config: no %s pipeline", name)
		}
	}
	for name, p := range pipelines {
		pm, _ := p.(map[string]any)
		if ex := stringList(pm["exporters"]); !slices.Equal(ex, []string{"loadbalancing"}) {
			t.Errorf("gateway pipeline %s exports to %v, want [loadbalancing] only", name, ex)
		}
	}
}

// canWatchEndpoints: a RoleBinding in ns binds sa to a Role in ns that may
// get, list and watch endpoints and endpointslices.
func canWatchEndpoints(objs *objects, sa, saNamespace, ns string) bool {
	need := map[string]string{"endpoints": "", "endpointslices": "discovery.k8s.io"}
	for _, rb := range objs.bindings {
		if rb.Namespace != ns || rb.RoleRef.Kind != "Role" {
			continue
		}
		bound := false
		for _, s := range rb.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == saNamespace {
				bound = true
			}
		}
		role := objs.roles[rb.RoleRef.Name]
		if !bound || role == nil || role.Namespace != ns {
			continue
		}
		granted := 0
		for res, group := range need {
			for _, r := range role.Rules {
				if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, res) &&
					slices.Contains(r.Verbs, "get") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
					granted++
					break
				}
			}
		}
		if granted == len(need) {
			return true
		}
	}
	return false
}

// TestPostgresDemo: the demo database fits the postgres setup (same Secret,
// a Service in front of it) and the README's DSN names that Service.
func TestPostgresDemo(t *testing.T) {
	demo := kustomizeBuild(t, "postgres-demo")
	pg := kustomizeBuild(t, "postgres")
	sts := demo.statefulSets["argus-postgres"]
	if sts == nil {
		t.Fatal("no StatefulSet argus-postgres")
	}
	pod := &sts.Spec.Template
	checkSelector(t, "StatefulSet argus-postgres", sts.Spec.Selector, pod)
	svc := demo.services["argus-postgres"]
	if svc == nil || !selects(svc.Spec.Selector, pod.Labels) {
		t.Fatal("no Service argus-postgres selecting the PostgreSQL pod")
	}
	c := findContainer(t, pod, "postgres")
	if c == nil {
		return
	}
	if !servicePortTargets(t, svc, c, 5432) {
		t.Error("Service argus-postgres does not reach port 5432")
	}
	var pwSecret string
	for _, e := range c.Env {
		if e.Name == "POSTGRES_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			pwSecret = e.ValueFrom.SecretKeyRef.Name
		}
	}
	argus := pg.statefulSets["argus"]
	if argus == nil {
		t.Fatal("postgres setup: no StatefulSet argus")
	}
	var dsnSecret string
	for _, e := range findContainer(t, &argus.Spec.Template, "argus").Env {
		if e.Name == "ARGUS_DSN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			dsnSecret = e.ValueFrom.SecretKeyRef.Name
		}
	}
	if pwSecret == "" || pwSecret != dsnSecret {
		t.Errorf("demo POSTGRES_PASSWORD from Secret %q, argus ARGUS_DSN from Secret %q: the walkthrough creates one Secret for both", pwSecret, dsnSecret)
	}
	if sts.Namespace != argus.Namespace {
		t.Errorf("demo namespace %q, argus namespace %q", sts.Namespace, argus.Namespace)
	}
	readme := string(readFile(t, filepath.Join(repoRoot(t), "deploy", "README.md")))
	host := fmt.Sprintf("%s.%s.svc:5432", svc.Name, svc.Namespace)
	if !strings.Contains(readme, host) {
		t.Errorf("deploy/README.md never gives the demo database's address %s", host)
	}
}

// --- helpers over pods ---

func findContainer(t *testing.T, pod *corev1.PodTemplateSpec, name string) *corev1.Container {
	t.Helper()
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	t.Errorf("no container %q", name)
	return nil
}

func checkSelector(t *testing.T, who string, sel *metav1.LabelSelector, pod *corev1.PodTemplateSpec) {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Errorf("%s: empty selector", who)
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("%s: selector: %v", who, err)
		return
	}
	if !s.Matches(labels.Set(pod.Labels)) {
		t.Errorf("%s: selector %v does not match its pod labels %v", who, sel.MatchLabels, pod.Labels)
	}
}

func selects(selector, podLabels map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(podLabels))
}

// containerConfig finds the file named by the container's --config flag in
// the ConfigMap mounted at its directory.
func containerConfig(t *testing.T, objs *objects, pod *corev1.PodTemplateSpec, c *corev1.Container) (string, string) {
	t.Helper()
	var path string
	for _, arg := range append(append([]string{}, c.Command...), c.Args...) {
		if p, ok := strings.CutPrefix(arg, "--config="); ok {
			path = p
		}
	}
	if path == "" {
		t.Fatalf("container %s: no --config= argument", c.Name)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath != filepath.Dir(path) {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm := objs.configMaps[v.ConfigMap.Name]
				if cm == nil {
					t.Fatalf("container %s: ConfigMap %s is not defined", c.Name, v.ConfigMap.Name)
				}
				text, ok := cm.Data[filepath.Base(path)]
				if !ok {
					t.Fatalf("ConfigMap %s has no key %s", cm.Name, filepath.Base(path))
				}
				return path, text
			}
		}
	}
	t.Fatalf("container %s: no ConfigMap mounted at %s", c.Name, filepath.Dir(path))
	return "", ""
}

func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func servicePortTargets(t *testing.T, svc *corev1.Service, c *corev1.Container, port int32) bool {
	t.Helper()
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		if got, ok := containerPort(c, target); ok && got == port {
			return true
		}
	}
	return false
}

// checkEndpoints: every server endpoint listens on all interfaces (or the
// pod IP) and on a declared container port.
func checkEndpoints(t *testing.T, who string, endpoints map[string]string, c *corev1.Container) {
	t.Helper()
	if len(endpoints) == 0 {
		t.Errorf("%s: config has no server endpoints", who)
	}
	for what, ep := range endpoints {
		host, port := hostPort(t, ep)
		if host != "0.0.0.0" && host != placeholderPodIP {
			t.Errorf("%s %s listens on %s: unreachable from other pods (want 0.0.0.0 or the pod IP)", who, what, ep)
		}
		if _, ok := containerPort(c, intstr.FromInt32(port)); !ok {
			t.Errorf("%s %s port %d is not a container port", who, what, port)
		}
	}
}

// checkProbes: the probes ask the health_check extension.
func checkProbes(t *testing.T, who string, cfg map[string]any, c *corev1.Container, wantStartup bool) {
	t.Helper()
	ep := lookupString(cfg, "extensions", "health_check", "endpoint")
	if ep == "" {
		t.Errorf("%s: no health_check extension endpoint", who)
		return
	}
	if ext, _ := lookup(cfg, "service", "extensions"); !slices.Contains(stringList(ext), "health_check") {
		t.Errorf("%s: health_check is not in service::extensions", who)
	}
	_, port := hostPort(t, ep)
	path := lookupString(cfg, "extensions", "health_check", "path")
	if path == "" {
		path = "/"
	}
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	if wantStartup {
		probes["startup"] = c.StartupProbe
	}
	for name, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no %s httpGet probe", who, name)
			continue
		}
		got, ok := containerPort(c, p.HTTPGet.Port)
		if !ok || got != port {
			t.Errorf("%s: %s probe port %s, want the health_check port %d", who, name, p.HTTPGet.Port.String(), port)
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s: %s probe path %q, want %q", who, name, p.HTTPGet.Path, path)
		}
	}
}

func checkPodSecurity(t *testing.T, who string, pod *corev1.PodTemplateSpec, c *corev1.Container) {
	t.Helper()
	ps := pod.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("%s: pod must run as a non-root user (runAsNonRoot, runAsUser)", who)
	}
	cs := c.SecurityContext
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		t.Errorf("%s: container root filesystem must be read-only", who)
	}
	if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", who)
	}
}

func checkResources(t *testing.T, who string, c *corev1.Container) {
	t.Helper()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", who, r)
		}
	}
	if req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]; req.Cmp(lim) > 0 {
		t.Errorf("%s: memory request %s above the limit %s", who, req.String(), lim.String())
	}
	checkGoMemLimit(t, who, c.Env, c.Resources.Limits)
}

func checkPDB(t *testing.T, objs *objects, who, namespace string, pod *corev1.PodTemplateSpec) {
	t.Helper()
	for _, pdb := range objs.pdbs {
		if pdb.Namespace != namespace {
			continue
		}
		if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && !s.Empty() && s.Matches(labels.Set(pod.Labels)) {
			return
		}
	}
	t.Errorf("%s: no PodDisruptionBudget selects its pods", who)
}

// expandEnv applies ${env:NAME} and ${env:NAME:-default} the way the
// collector's env provider does, for the static checks; the binary checks
// resolve the same files with the collector itself.
var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

func expandEnv(text string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(text, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := env[m[1]]; ok && v != "" {
			return v
		}
		return m[3]
	})
}
