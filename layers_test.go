package gatehouse_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gatehouse-gw/gatehouse"

// layers is the tree from the ground floor up (docs/design.md §10). A
// package may import only packages of the layers below its own; a new
// package must be placed here before it builds into the test.
var layers = [][]string{
	{"internal/valid", "internal/idem", "internal/logkey", "internal/metrics", "internal/tracing", "internal/public", "internal/strictjson", "internal/subject", "internal/readahead"},
	{"api", "internal/health", "tlog"},
	{"audit", "exchange/minimise"},
	{"exchange/seal", "agreements"},
	{"certs", "client", "devenv/demo", "devenv/idp"},
	{"config", "exchange"},
	{"compliance", "store/objectstore", "store/migrations"},
	{"alerts"},
	{"store"},
	{"store/storetest", "gateway"},
	{"console"},
	{"server", "devenv"},
	{"devenv/testenv"},
	{"cmd/gatehouse/cli", "bench"},
	{"cmd/gatehouse", "e2e", "scripts/vulndb", "."},
}

// sdk is all of ours that the partner SDK may link: a partner's binary
// needs nothing of the server.
var sdk = []string{"api", "exchange/seal", "tlog"}

// serverOnly are modules a partner's binary must never link.
var serverOnly = []string{
	"github.com/prometheus/", "github.com/gofiber/", "github.com/valyala/fasthttp",
	"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/minio/minio-go",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func rel(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// TestImportLayers holds every import of every package (tests of a
// package excepted: they may use the rigs above them) to the layer order.
func TestImportLayers(t *testing.T) {
	layerOf := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			layerOf[p] = i
		}
	}
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...") {
		fields := strings.Fields(line)
		pkg, _ := rel(fields[0])
		own, ok := layerOf[pkg]
		if !ok {
			t.Errorf("package %s is in no layer of layers_test.go: place it", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, ours := rel(imp)
			if !ours {
				continue
			}
			if layerOf[dep] >= own {
				t.Errorf("%s (layer %d) imports %s (layer %d): an import may only point down", pkg, own, dep, layerOf[dep])
			}
		}
	}
}

// TestPartnerSDKLinksNoServer: a partner agency's binary built on client/
// links nothing of ours but the wire format and the envelope code, and no
// server library.
func TestPartnerSDKLinksNoServer(t *testing.T) {
	for _, dep := range goList(t, "-deps", "./client") {
		if r, ours := rel(dep); ours && r != "client" && !slices.Contains(sdk, r) {
			t.Errorf("client links %s", r)
		}
		for _, s := range serverOnly {
			if strings.HasPrefix(dep, s) {
				t.Errorf("client links the server library %s", dep)
			}
		}
	}
}
