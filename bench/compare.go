package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// compareLarge times P3's transfers through two gateway builds, each with
// its own MinIO, alternating within every round, so that the two meet the
// same load on a shared machine: the ratio of one to the other in the same
// round is what a change gained. base and next are the two environments.
func compareLarge(ctx context.Context, base, next *env, size int64, rounds int) ([]Metric, error) {
	type side struct {
		name string
		e    *env
		up   []float64
		down []float64
	}
	sides := []*side{{name: "base", e: base}, {name: "next", e: next}}
	mib := func(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }
	var upRatios, downRatios []float64
	for r := range rounds {
		// The order alternates between rounds, so neither build always goes first.
		order := sides
		if r%2 == 1 {
			order = []*side{sides[1], sides[0]}
		}
		for _, s := range order {
			c, err := s.e.client("council.revenues")
			if err != nil {
				return nil, err
			}
			hmrc, err := s.e.client("hmrc")
			if err != nil {
				return nil, err
			}
			start, cpu := time.Now(), s.e.cpuMeter()
			ex, err := c.Send(ctx, smallDeclaration(size), newPattern(size))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			up, upCPU := mib(size, time.Since(start)), cpu.String()
			start, cpu = time.Now(), s.e.cpuMeter()
			body, err := hmrc.PayloadReader(ctx, ex.ID, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			n, err := copyDiscard(body)
			body.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			down, downCPU := mib(n, time.Since(start)), cpu.String()
			fmt.Fprintf(os.Stderr, "  round %d, %s: upload %.0f MiB/s (%s); download %.0f MiB/s (%s)\n", r+1, s.name, up, upCPU, down, downCPU)
			s.up, s.down = append(s.up, up), append(s.down, down)
		}
		upRatios = append(upRatios, sides[1].up[r]/sides[0].up[r])
		downRatios = append(downRatios, sides[1].down[r]/sides[0].down[r])
	}
	return []Metric{
		info("compare: upload, base build", medianOf(sides[0].up), "MiB/s"),
		info("compare: upload, next build", medianOf(sides[1].up), "MiB/s"),
		info("compare: upload, next / base (median of the rounds' ratios)", medianOf(upRatios), "ratio"),
		info("compare: download, base build", medianOf(sides[0].down), "MiB/s"),
		info("compare: download, next build", medianOf(sides[1].down), "MiB/s"),
		info("compare: download, next / base (median of the rounds' ratios)", medianOf(downRatios), "ratio"),
	}, nil
}

// runCompare starts an environment for each build and compares them.
func runCompare(baseBin, nextBin string, size int64, rounds int, outDir string) error {
	if baseBin == "" || nextBin == "" {
		return fmt.Errorf("-compare-base and -compare-next name the two gateway binaries")
	}
	ctx := context.Background()
	base, err := startEnv(ctx, baseBin)
	if err != nil {
		return fmt.Errorf("starting the base build: %w", err)
	}
	defer base.close()
	next, err := startEnv(ctx, nextBin)
	if err != nil {
		return fmt.Errorf("starting the next build: %w", err)
	}
	defer next.close()
	ms, err := compareLarge(ctx, base, next, size, rounds)
	if err != nil {
		return err
	}
	return writeSummary(filepath.Join(outDir, "compare.json"), ms)
}
