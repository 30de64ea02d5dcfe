// Command bench runs the project's benchmarks (make bench), compares each
// with its baseline measured in the same run, and writes
// bench/out/summary.json: one entry per metric with its value, unit,
// baseline, ratio and target. The machine is shared and noisy, so targets
// that depend on speed are ratios against a baseline, never absolute times.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Metric is one line of the summary.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline is the same quantity for the reference (raw MinIO, plain
	// crypto/tls) measured in the same run, if the target is a ratio.
	Baseline *float64 `json:"baseline,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"`
	// Target says what counts as good, e.g. "<= 5000" or "ratio >= 0.8".
	Target string `json:"target"`
	Met    bool   `json:"met"`
	// Peer marks a comparison with what a council would use instead of
	// the gateway (not one of the targets P1–P6).
	Peer bool `json:"peer,omitempty"`
}

// result is one benchmark's medians over the runs, by unit.
type result map[string]float64

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// runGoBench runs benchmarks matching pattern in pkg count times and returns
// the median of every reported unit, by benchmark name.
func runGoBench(pkg, pattern string, count int, benchtime string, extra ...string) (map[string]result, error) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-benchmem",
		"-count", strconv.Itoa(count), "-benchtime", benchtime, "-timeout", "30m"}, extra...)
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	fmt.Fprintf(os.Stderr, "go %s\n", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(out.Bytes())
		return nil, fmt.Errorf("go test %s: %w", pkg, err)
	}
	samples := map[string]map[string][]float64{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if samples[m[1]] == nil {
				samples[m[1]] = map[string][]float64{}
			}
			samples[m[1]][fields[i+1]] = append(samples[m[1]][fields[i+1]], v)
		}
	}
	res := map[string]result{}
	for name, units := range samples {
		res[name] = result{}
		for unit, vs := range units {
			res[name][unit] = median(vs)
		}
	}
	return res, nil
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ptr(v float64) *float64 { return &v }

// atMost and atLeast build metrics with absolute targets (counts, bytes).
func atMost(name string, v float64, unit string, limit float64) Metric {
	return Metric{Name: name, Value: v, Unit: unit, Target: fmt.Sprintf("<= %g %s", limit, unit), Met: v <= limit}
}

func atLeast(name string, v float64, unit string, limit float64) Metric {
	return Metric{Name: name, Value: v, Unit: unit, Target: fmt.Sprintf(">= %g %s", limit, unit), Met: v >= limit}
}

// info builds a metric reported for context, with no target of its own.
func info(name string, v float64, unit string) Metric {
	return Metric{Name: name, Value: v, Unit: unit, Target: "(context)", Met: true}
}

// ratioAtLeast builds a metric whose target is value/baseline >= min.
func ratioAtLeast(name string, v, base float64, unit string, min float64) Metric {
	r := 0.0
	if base > 0 {
		r = v / base
	}
	return Metric{Name: name, Value: v, Unit: unit, Baseline: ptr(base), Ratio: ptr(r), Target: fmt.Sprintf("ratio >= %g", min), Met: r >= min}
}

// gatewayBinPath is where the gateway binary under test is built: a folder
// of this run's own, so that two runs on one machine never start each
// other's build.
func gatewayBinPath() (string, error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-bin-*")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "gatehouse"), nil
}

func main() {
	outDir := flag.String("out", "bench/out", "folder for summary.json")
	only := flag.String("only", "", "comma-separated targets to run (P1,…,P6); empty: all")
	loadFor := flag.Duration("load", 10*time.Second, "how long each closed-loop load runs")
	openLoad := flag.Bool("open-load", false, "instead of the targets, run make load: an open-loop mixed load at -rate for -duration")
	rate := flag.Float64("rate", 40, "with -open-load: requests per second")
	duration := flag.Duration("duration", time.Minute, "with -open-load: how long")
	largeMiB := flag.Int64("large-mib", 1024, "size of P3's transfer, MiB (1 GiB is the target's)")
	noPeers := flag.Bool("no-peers", false, "skip the peers (gpg + sftp, nginx TLS proxy) in P3")
	compareBase := flag.String("compare-base", "", "with -compare-next: time P3's transfers through these two gateway binaries, alternating in every round, instead of the targets")
	compareNext := flag.String("compare-next", "", "the build compared with -compare-base")
	compareRounds := flag.Int("compare-rounds", 5, "with -compare-base: rounds")
	gatewayBin := flag.String("gateway-bin", "", "run this gateway binary instead of building one from this tree (to compare two builds)")
	flag.Parse()
	if *openLoad {
		ctx := context.Background()
		bin, err := gatewayBinPath()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(filepath.Dir(bin))
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "%s\n%v\n", out, err)
			os.Exit(1)
		}
		if err := runLoad(ctx, bin, *rate, *duration, *outDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *compareBase != "" || *compareNext != "" {
		if err := runCompare(*compareBase, *compareNext, *largeMiB<<20, *compareRounds, *outDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	want := func(id string) bool { return *only == "" || slices.Contains(strings.Split(*only, ","), id) }

	var metrics []Metric
	failed := false
	run := func(id string, fn func() ([]Metric, error)) {
		if !want(id) {
			return
		}
		start := time.Now()
		ms, err := fn()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", id, err)
			failed = true
			return
		}
		fmt.Fprintf(os.Stderr, "%s done in %s\n", id, time.Since(start).Round(time.Second))
		metrics = append(metrics, ms...)
	}

	run("P1", func() ([]Metric, error) {
		res, err := runGoBench("./agreements/", "^BenchmarkDecide$", 5, "1s")
		if err != nil {
			return nil, err
		}
		r := res["BenchmarkDecide"]
		return []Metric{
			atMost("P1 decide (20-flow agreement, 10,000 registered) time", r["ns/op"], "ns/op", 5000),
			atMost("P1 decide allocations", r["allocs/op"], "allocs/op", 20),
		}, nil
	})

	run("P5", func() ([]Metric, error) {
		res, err := runGoBench("./store/", "^BenchmarkAudit(Append|Verify)$", 3, "2s")
		if err != nil {
			return nil, err
		}
		get := func(name string) float64 { return res[name]["entries/s"] }
		return []Metric{
			atLeast("P5 durable audit appends, SQLite, 64 writers (group commit)", get("BenchmarkAuditAppend/sqlite/writers=64"), "entries/s", 5000),
			atLeast("P5 durable audit appends, PostgreSQL, 64 writers (group commit)", get("BenchmarkAuditAppend/postgres/writers=64"), "entries/s", 5000),
			info("P5 durable audit appends, SQLite, 1 writer (no sharing)", get("BenchmarkAuditAppend/sqlite/writers=1"), "entries/s"),
			info("P5 durable audit appends, PostgreSQL, 1 writer (no sharing)", get("BenchmarkAuditAppend/postgres/writers=1"), "entries/s"),
			atLeast("P5 audit verify, 200,000 entries read from SQLite", get("BenchmarkAuditVerify/database"), "entries/s", 200000),
			info("P5 audit verify, chain in memory (hashing and links only)", get("BenchmarkAuditVerify/memory"), "entries/s"),
		}, nil
	})

	run("P6", func() ([]Metric, error) { return benchHandshakes(5 * time.Second) })

	if want("P2") || want("P3") || want("P4") {
		ctx := context.Background()
		bin := *gatewayBin
		if bin == "" {
			// A folder of this run's own: two runs at once (two engineers on
			// one machine) must not build over each other's gateway.
			binDir, err := os.MkdirTemp("", "gatehouse-bench-bin-*")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			bin = filepath.Join(binDir, "gatehouse")
			if os.Getenv("GATEHOUSE_BENCH_CPU_PROFILE") == "" && os.Getenv("GATEHOUSE_BENCH_ALLOC_PROFILE") == "" {
				defer os.RemoveAll(binDir)
			} else {
				fmt.Fprintf(os.Stderr, "the gateway profiled is %s\n", bin)
			}
			fmt.Fprintln(os.Stderr, "building the gateway")
			if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse").CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "%s\n%v\n", out, err)
				os.Exit(1)
			}
		}
		e, err := startEnv(ctx, bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "starting MinIO and the gateway: %v\n", err)
			os.Exit(1)
		}
		run("P2", func() ([]Metric, error) { return benchSmallExchanges(ctx, e, *loadFor) })
		run("P3", func() ([]Metric, error) { return benchLarge(ctx, e, *largeMiB<<20, !*noPeers) })
		run("P4", func() ([]Metric, error) { return benchMemory(ctx, e, bin, 4<<30) })
		e.close()
	}

	if err := writeSummary(filepath.Join(*outDir, "summary.json"), metrics); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// writeSummary writes metrics to path as JSON and prints them as a table.
func writeSummary(path string, metrics []Metric) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(metrics, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tVALUE\tBASELINE\tRATIO\tTARGET\tMET")
	for _, m := range metrics {
		base, ratio := "-", "-"
		if m.Baseline != nil {
			base = fmt.Sprintf("%.4g %s", *m.Baseline, m.Unit)
			ratio = fmt.Sprintf("%.2f", *m.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%.4g %s\t%s\t%s\t%s\t%v\n", m.Name, m.Value, m.Unit, base, ratio, m.Target, m.Met)
	}
	tw.Flush()
	fmt.Printf("wrote %s\n", path)
	return nil
}
