package deploy

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/arguslabs/argus-otel/internal/testutil"
)

// No Docker engine runs on the development and CI machines, so the image is
// never built here. These tests hold the Dockerfile to what is checked
// elsewhere: the Makefile's build (same ocb, same builder config, CGO off),
// go.mod's Go release, and the baked config as otelcol-argus resolves it.

type instruction struct {
	cmd  string // upper-case keyword
	args string
}

type stage struct {
	image, name string
	instrs      []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(text string) []stage {
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{}
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					s.name = f[i+1]
					i++
				case s.image == "":
					s.image = f[i]
				}
			}
			stages = append(stages, s)
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// vars reads the KEY=value pairs of the stage's ENV or ARG instructions.
func (s stage) vars(cmd string) map[string]string {
	out := map[string]string{}
	for _, args := range s.all(cmd) {
		for _, f := range strings.Fields(args) {
			k, v, ok := strings.Cut(f, "=")
			if ok {
				out[k] = strings.Trim(v, `"'`)
			}
		}
	}
	return out
}

func expandArgs(s string, args map[string]string) string {
	for k, v := range args {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
		s = strings.ReplaceAll(s, "$"+k, v)
	}
	return s
}

// jsonArgs parses an exec-form instruction (["a", "b"]).
func jsonArgs(s string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("%s: want the JSON (exec) form: %v", s, err)
	}
	return out, nil
}

// makeBuild is what the Makefile's build does.
type makeBuild struct {
	ocbVersion, ocbModule, builderConfig, cgo string
}

func parseMakefile(text string) (makeBuild, error) {
	var m makeBuild
	find := func(re string) string {
		if sm := regexp.MustCompile(re).FindStringSubmatch(text); sm != nil {
			return sm[1]
		}
		return ""
	}
	m.ocbVersion = find(`(?m)^OCB_VERSION\s*:?=\s*(\S+)`)
	m.ocbModule = find(`go install (\S+)@\$\(OCB_VERSION\)`)
	m.builderConfig = find(`\$\(OCB\) --config[ =](\S+)`)
	m.cgo = find(`(?m)^export CGO_ENABLED\s*:?=\s*(\S+)`)
	if m.ocbVersion == "" || m.ocbModule == "" || m.builderConfig == "" || m.cgo == "" {
		return m, fmt.Errorf("Makefile: could not read OCB_VERSION, the ocb install, the ocb --config call or CGO_ENABLED: %+v", m)
	}
	return m, nil
}

// goRelease is go.mod's toolchain release (major.minor), or its go line's.
func goRelease(gomod string) string {
	if sm := regexp.MustCompile(`(?m)^toolchain go(\d+\.\d+)`).FindStringSubmatch(gomod); sm != nil {
		return sm[1]
	}
	if sm := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod); sm != nil {
		return sm[1]
	}
	return ""
}

// image is what the final stage promises, for the baked-config check.
type image struct {
	env        map[string]string
	exposed    []int32
	volume     string
	configPath string
	// flags: the CMD's other arguments (feature gates), which validating
	// the baked config needs too.
	flags []string
}

// dockerProblems checks the Dockerfile against the Makefile, go.mod and the
// builder config.
func dockerProblems(dockerfile, makefile, gomod string, dist builderDist) ([]string, image) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var img image
	mk, err := parseMakefile(makefile)
	if err != nil {
		return []string{err.Error()}, img
	}
	stages := parseDockerfile(dockerfile)
	if len(stages) < 2 {
		return []string{fmt.Sprintf("want a multi-stage build, got %d stages", len(stages))}, img
	}
	build, final := stages[0], stages[len(stages)-1]

	// Build stage: same Go, same ocb, same builder config, CGO off.
	want := goRelease(gomod)
	if sm := regexp.MustCompile(`^golang:(\d+\.\d+)(\b|$)`).FindStringSubmatch(build.image); sm == nil || sm[1] != want {
		bad("build stage FROM %s, want golang:%s (go.mod)", build.image, want)
	}
	args := build.vars("ARG")
	env := build.vars("ENV")
	if env["CGO_ENABLED"] != mk.cgo {
		bad("build stage CGO_ENABLED=%q, the Makefile exports %q", env["CGO_ENABLED"], mk.cgo)
	}
	var installed, built bool
	for _, run := range build.all("RUN") {
		run = expandArgs(run, args)
		if strings.Contains(run, "go install "+mk.ocbModule+"@"+mk.ocbVersion) {
			installed = true
		}
		if regexp.MustCompile(`(^|[\s;&])builder --config[ =]` + regexp.QuoteMeta(mk.builderConfig) + `(\s|$)`).MatchString(run) {
			built = true
		}
	}
	if !installed {
		bad("build stage does not `go install %s@%s` (the Makefile's ocb)", mk.ocbModule, mk.ocbVersion)
	}
	if !built {
		bad("build stage does not run `builder --config %s` (the Makefile's build)", mk.builderConfig)
	}
	workdir := "/"
	if w := build.all("WORKDIR"); len(w) > 0 {
		workdir = w[len(w)-1]
	}
	binary := path.Join(workdir, dist.OutputPath, dist.Name)

	// Final stage: distroless static, non-root, the binary and the config.
	if !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot$`).MatchString(final.image) {
		bad("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.image)
	}
	users := final.all("USER")
	if len(users) == 0 {
		bad("final stage sets no USER")
	} else {
		uid, gid, _ := strings.Cut(users[len(users)-1], ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			bad("USER %s: want a numeric non-root uid", users[len(users)-1])
		}
		if n, err := strconv.Atoi(gid); gid != "" && (err != nil || n == 0) {
			bad("USER %s: want a numeric non-root gid", users[len(users)-1])
		}
	}
	copies := final.all("COPY")
	hasCopy := func(src, dst string, fromBuild bool) bool {
		for _, c := range copies {
			f := strings.Fields(c)
			if len(f) < 2 || f[len(f)-1] != dst || f[len(f)-2] != src {
				continue
			}
			if fromBuild == slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, "--from=") }) {
				return true
			}
		}
		return false
	}
	entry := "/" + dist.Name
	if !hasCopy(binary, entry, true) {
		bad("final stage does not COPY --from=<build> %s %s", binary, entry)
	}
	if e := final.all("ENTRYPOINT"); len(e) != 1 {
		bad("want one ENTRYPOINT, got %d", len(e))
	} else if ep, err := jsonArgs(e[0]); err != nil {
		bad("ENTRYPOINT %v", err)
	} else if !slices.Equal(ep, []string{entry}) {
		bad("ENTRYPOINT %v, want [%q]", ep, entry)
	}
	if c := final.all("CMD"); len(c) != 1 {
		bad("want one CMD, got %d", len(c))
	} else if cmd, err := jsonArgs(c[0]); err != nil {
		bad("CMD %v", err)
	} else {
		for _, a := range cmd {
			if p, ok := strings.CutPrefix(a, "--config="); ok {
				img.configPath = p
			} else {
				img.flags = append(img.flags, a)
			}
		}
		if img.configPath == "" {
			bad("CMD %v has no --config=", cmd)
		} else if !hasCopy("config.yaml", img.configPath, false) {
			bad("final stage does not COPY config.yaml %s", img.configPath)
		}
	}
	for _, e := range final.all("EXPOSE") {
		for _, p := range strings.Fields(e) {
			n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
			if err != nil {
				bad("EXPOSE %s: %v", p, err)
				continue
			}
			img.exposed = append(img.exposed, int32(n))
		}
	}
	if vols := final.all("VOLUME"); len(vols) != 1 {
		bad("want one VOLUME (the data directory), got %d", len(vols))
	} else if v, err := jsonArgs(vols[0]); err != nil || len(v) != 1 {
		bad("VOLUME %s: want [\"/path\"]", vols[0])
	} else {
		img.volume = v[0]
		// A volume mounted on a missing directory is owned by root: the
		// image must ship the directory owned by the USER.
		owned := false
		for _, c := range copies {
			f := strings.Fields(c)
			if len(f) > 0 && f[len(f)-1] == img.volume && len(users) > 0 &&
				slices.Contains(f, "--chown="+users[len(users)-1]) {
				owned = true
			}
		}
		if !owned {
			bad("VOLUME %s: no COPY --chown=<USER> creates it, the non-root user could not write it", img.volume)
		}
	}
	img.env = final.vars("ENV")
	return problems, img
}

func dockerInputs(t *testing.T) (string, string, string, builderDist) {
	root := repoRoot(t)
	return string(readFile(t, filepath.Join(root, "Dockerfile"))),
		string(readFile(t, filepath.Join(root, "Makefile"))),
		string(readFile(t, filepath.Join(root, "go.mod"))),
		readBuilderDist(t)
}

func TestDockerfileMatchesMakefile(t *testing.T) {
	dockerfile, makefile, gomod, dist := dockerInputs(t)
	problems, img := dockerProblems(dockerfile, makefile, gomod, dist)
	for _, p := range problems {
		t.Error(p)
	}
	for _, port := range []int32{4317, 4318, 13133} {
		if !slices.Contains(img.exposed, port) {
			t.Errorf("port %d is not EXPOSEd (have %v)", port, img.exposed)
		}
	}

	// Each drift from the Makefile or the image rules must be caught.
	mutations := map[string][2]string{
		"other Go release":    {"FROM golang:1.26 ", "FROM golang:1.25 "},
		"cgo on":              {"ENV CGO_ENABLED=0", "ENV CGO_ENABLED=1"},
		"other ocb":           {"ARG OCB_VERSION=v0.165.0", "ARG OCB_VERSION=v0.164.0"},
		"other builder cfg":   {"builder --config builder-config.yaml", "builder --config other.yaml"},
		"root user":           {"USER 65532:65532", "USER 0:0"},
		"full base image":     {"gcr.io/distroless/static-debian12:nonroot", "debian:12"},
		"shell entrypoint":    {`ENTRYPOINT ["/otelcol-argus"]`, `ENTRYPOINT /otelcol-argus`},
		"volume not writable": {"COPY --from=build --chown=65532:65532 /out/var/lib/argus", "COPY --from=build /out/var/lib/argus"},
	}
	for name, m := range mutations {
		if !strings.Contains(dockerfile, m[0]) {
			t.Errorf("mutation %q: %q not in the Dockerfile", name, m[0])
			continue
		}
		if p, _ := dockerProblems(strings.Replace(dockerfile, m[0], m[1], 1), makefile, gomod, dist); len(p) == 0 {
			t.Errorf("mutation %q went unnoticed", name)
		}
	}
	if p, _ := dockerProblems(dockerfile, strings.Replace(makefile, "OCB_VERSION   := v0.165.0", "OCB_VERSION   := v0.166.0", 1), gomod, dist); len(p) == 0 {
		t.Error("a Makefile on another ocb release went unnoticed")
	}
}

// The image's default config, resolved by otelcol-argus with the image's
// ENV: it listens on all interfaces on EXPOSEd ports and writes only to the
// VOLUME.
func TestDockerBakedConfig(t *testing.T) {
	dockerfile, makefile, gomod, dist := dockerInputs(t)
	problems, img := dockerProblems(dockerfile, makefile, gomod, dist)
	if len(problems) > 0 || img.volume == "" {
		t.Fatalf("Dockerfile problems (see TestDockerfileMatchesMakefile): %v", problems)
	}
	text := string(readFile(t, filepath.Join(repoRoot(t), "config.yaml")))
	check := func(t *testing.T, cfg map[string]any) {
		endpoints := listenEndpoints(cfg)
		if len(endpoints) == 0 {
			t.Fatal("config.yaml: no server endpoints")
		}
		for what, ep := range endpoints {
			host, port := hostPort(t, ep)
			if host != "0.0.0.0" {
				t.Errorf("in the image, %s listens on %s: unreachable from outside the container", what, ep)
			}
			if !slices.Contains(img.exposed, port) {
				t.Errorf("in the image, %s port %d is not EXPOSEd", what, port)
			}
		}
		for _, p := range pipelineProblems(cfg) {
			t.Errorf("config.yaml: %s", p)
		}
		paths := storagePaths(cfg)
		if len(paths) == 0 {
			t.Error("config.yaml writes no database or queue: expected the sqlite path and file_storage")
		}
		for what, p := range paths {
			if !under(p, img.volume) {
				t.Errorf("in the image, %s = %s is outside the VOLUME %s", what, p, img.volume)
			}
		}
	}
	static, err := parseYAMLMap([]byte(expandEnv(text, img.env)))
	if err != nil {
		t.Fatal(err)
	}
	check(t, static)
	t.Run("otelcol-argus", func(t *testing.T) {
		bin := testutil.CollectorBinary(t, "the otelcol-argus validate checks")
		resolved := validateAndResolve(t, bin, writeConfig(t, "config.yaml", []byte(text)), img.env, img.flags...)
		if resolved != nil {
			check(t, resolved)
		}
	})
}

func TestDockerignore(t *testing.T) {
	data := string(readFile(t, filepath.Join(repoRoot(t), ".dockerignore")))
	var patterns []string
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.TrimPrefix(line, "/"))
		}
	}
	ignored := func(name string) bool {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	for _, name := range []string{".git", "_build", ".tools", ".argus", "traces.db"} {
		if !ignored(name) {
			t.Errorf(".dockerignore lets %s into the build context", name)
		}
	}
	for _, name := range []string{"go.mod", "go.sum", "builder-config.yaml", "config.yaml", "cmd", "storage", "exporter", "processor", "internal"} {
		if ignored(name) {
			t.Errorf(".dockerignore drops %s, which the build needs", name)
		}
	}
}
