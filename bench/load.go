package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store"
)

// make load: an open-loop load at a fixed rate (requests are started on
// schedule whether or not earlier ones have finished, and latency counts
// from the scheduled time, so a slow gateway cannot hide its queueing) of
// four operations in turn, over mutual TLS:
//
//	declare  a lawful disclosure is declared (and decided)
//	refuse   a disclosure no agreement allows is declared (and refused)
//	upload   a 4 KiB payload for an exchange declared before the run
//	fetch    the recipient fetches an exchange: envelope, payload, decryption
//
// Afterwards it reads the audit record and checks that it holds exactly one
// decision per declaration sent, one seal per upload and one fetch per
// fetch, and that the chain verifies.

type loadOp struct {
	name string
	run  func(ctx context.Context, i int) error
}

type opStats struct {
	Name      string  `json:"op"`
	Sent      int     `json:"sent"`
	OK        int     `json:"ok"`
	Errors    int     `json:"errors"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	latencies []time.Duration
	errs      map[string]int
}

// LoadReport is what make load writes to bench/out/load.json.
type LoadReport struct {
	Rate     float64    `json:"rate_per_second"`
	Duration string     `json:"duration"`
	Achieved float64    `json:"achieved_per_second"`
	Late     int64      `json:"late"`
	Ops      []*opStats `json:"ops"`
	Audit    struct {
		Decisions      int  `json:"decisions"`
		Declarations   int  `json:"declarations_sent"`
		Sealed         int  `json:"sealed"`
		Uploads        int  `json:"uploads_succeeded"`
		Fetched        int  `json:"fetched"`
		Fetches        int  `json:"fetches_succeeded"`
		ChainVerifies  bool `json:"chain_verifies"`
		EveryoneCounts bool `json:"counts_match"`
	} `json:"audit"`
}

func runLoad(ctx context.Context, bin string, rate float64, d time.Duration, outDir string) error {
	e, err := startEnv(ctx, bin)
	if err != nil {
		return err
	}
	defer e.close()
	council, err := e.client("council.revenues")
	if err != nil {
		return err
	}
	recipient, err := e.client("hmrc")
	if err != nil {
		return err
	}
	recipientKey, err := seal.ReadKey(e.cfg.EncryptionKeyFile("hmrc"))
	if err != nil {
		return err
	}
	total := int(rate * d.Seconds())
	payload := make([]byte, 4096)
	_, _ = rand.Read(payload)

	// Before the run: exchanges to upload to, and exchanges to fetch.
	fmt.Fprintf(os.Stderr, "preparing: %d declarations to upload to, 50 exchanges to fetch\n", total/4+1)
	// Paced under the default per-party rate limit (200/s).
	pace := time.NewTicker(time.Second / 150)
	defer pace.Stop()
	toUpload := make([]string, total/4+1)
	for i := range toUpload {
		<-pace.C
		x, err := council.Declare(ctx, loadDeclaration(int64(len(payload))))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		toUpload[i] = x.ID
	}
	toFetch := make([]string, 50)
	for i := range toFetch {
		<-pace.C
		x, err := council.Send(ctx, loadDeclaration(int64(len(payload))), bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		toFetch[i] = x.ID
	}

	var uploadNext atomic.Int64
	ops := []loadOp{
		{"declare", func(ctx context.Context, _ int) error {
			_, err := council.Declare(ctx, loadDeclaration(int64(len(payload))))
			return err
		}},
		{"refuse", func(ctx context.Context, _ int) error {
			d := loadDeclaration(16)
			d.Purpose = "marketing"
			_, err := council.Declare(ctx, d)
			var p *api.Problem
			if errors.As(err, &p) && p.Code == "refused" {
				return nil // refused, as it should be
			}
			if err == nil {
				return errors.New("marketing was allowed")
			}
			return err
		}},
		{"upload", func(ctx context.Context, _ int) error {
			id := toUpload[uploadNext.Add(1)-1]
			_, err := council.Upload(ctx, id, bytes.NewReader(payload), int64(len(payload)))
			return err
		}},
		{"fetch", func(ctx context.Context, i int) error {
			_, err := recipient.Fetch(ctx, toFetch[i%len(toFetch)], recipientKey, io.Discard)
			return err
		}},
	}
	stats := make([]*opStats, len(ops))
	for i, op := range ops {
		stats[i] = &opStats{Name: op.name, errs: map[string]int{}}
	}

	fmt.Fprintf(os.Stderr, "load: %.0f requests/s for %s (%d requests), open loop\n", rate, d, total)
	startAudit, err := auditHead(ctx, e)
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		late    atomic.Int64
		sem     = make(chan struct{}, 512)
		start   = time.Now()
		period  = time.Duration(float64(time.Second) / rate)
		runCtx  = context.Background()
		counted = make([]int, len(ops))
	)
	for i := range total {
		at := start.Add(time.Duration(i) * period)
		time.Sleep(time.Until(at))
		k := i % len(ops)
		counted[k]++
		select {
		case sem <- struct{}{}:
		default:
			late.Add(1) // over 512 in flight: it waits, and its latency shows it
			sem <- struct{}{}
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := ops[k].run(runCtx, i/len(ops))
			took := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			s := stats[k]
			s.Sent++
			s.latencies = append(s.latencies, took)
			if err != nil {
				s.Errors++
				s.errs[errorKind(err)]++
			} else {
				s.OK++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	rep := &LoadReport{Rate: rate, Duration: d.String(), Achieved: float64(total) / elapsed.Seconds(), Late: late.Load(), Ops: stats}
	for _, s := range stats {
		slices.Sort(s.latencies)
		s.P50ms, s.P99ms = ms(quantile(s.latencies, 0.5)), ms(quantile(s.latencies, 0.99))
		if len(s.latencies) > 0 {
			s.MaxMs = ms(s.latencies[len(s.latencies)-1])
		}
	}

	// The record: one decision per declaration, one seal per upload, one
	// fetch per fetch, and a sound chain.
	e.stopGateway()
	db, err := store.OpenReadOnly(ctx, e.cfg.Config.Database.Driver, e.cfg.Config.Database.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	counts := map[string]int{}
	for after := startAudit; ; {
		recs, err := db.AuditRecords(ctx, after, 10000)
		if err != nil {
			return err
		}
		for _, r := range recs {
			counts[r.Type]++
		}
		if len(recs) < 10000 {
			break
		}
		after = recs[len(recs)-1].Seq
	}
	a := &rep.Audit
	a.Decisions = counts[audit.TypeExchangeDecided]
	a.Declarations = stats[0].OK + stats[1].OK
	a.Sealed, a.Uploads = counts[audit.TypeExchangeSealed], stats[2].OK
	a.Fetched, a.Fetches = counts[audit.TypeExchangeFetched], stats[3].OK
	archive, err := appArchive(ctx, e)
	if err != nil {
		return err
	}
	keys, err := appAuditKeys(e)
	if err != nil {
		return err
	}
	check, err := audit.Check(ctx, db, archive, audit.CheckOptions{Keys: keys, Issuer: e.cfg.Config.Issuer})
	if err != nil {
		return err
	}
	a.ChainVerifies = check.OK()
	a.EveryoneCounts = a.Decisions == a.Declarations && a.Sealed == a.Uploads && a.Fetched == a.Fetches

	printLoad(os.Stdout, rep, stats)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "load.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", filepath.Join(outDir, "load.json"))
	errs := 0
	for _, s := range stats {
		errs += s.Errors
	}
	if errs > 0 || !a.EveryoneCounts || !a.ChainVerifies {
		return fmt.Errorf("load: %d errors; audit counts match: %v; chain verifies: %v", errs, a.EveryoneCounts, a.ChainVerifies)
	}
	return nil
}

func loadDeclaration(size int64) *api.ExchangeDeclaration {
	d := smallDeclaration(size)
	d.Subjects = []api.Subject{{Type: "nino", Value: "QQ123456C"}}
	return d
}

func errorKind(err error) string {
	var p *api.Problem
	if errors.As(err, &p) {
		return fmt.Sprintf("%d %s", p.Status, p.Code)
	}
	return err.Error()
}

func quantile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printLoad(w io.Writer, rep *LoadReport, stats []*opStats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "rate %.0f/s for %s: achieved %.1f/s, %d started late\n\n", rep.Rate, rep.Duration, rep.Achieved, rep.Late)
	fmt.Fprintln(tw, "OP\tSENT\tOK\tERRORS\tP50\tP99\tMAX")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f ms\t%.1f ms\t%.1f ms\n", s.Name, s.Sent, s.OK, s.Errors, s.P50ms, s.P99ms, s.MaxMs)
		kinds := make([]string, 0, len(s.errs))
		for k := range s.errs {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(tw, "\t\t\t%d × %s\n", s.errs[k], k)
		}
	}
	a := rep.Audit
	fmt.Fprintf(tw, "\naudit: %d decisions for %d declarations sent; %d seals for %d uploads; %d fetches recorded for %d; chain verifies: %v\n",
		a.Decisions, a.Declarations, a.Sealed, a.Uploads, a.Fetched, a.Fetches, a.ChainVerifies)
	tw.Flush()
}

// auditHead is the audit chain's head before the run.
func auditHead(ctx context.Context, e *env) (int64, error) {
	db, err := store.OpenReadOnly(ctx, e.cfg.Config.Database.Driver, e.cfg.Config.Database.DSN)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	seq, _, err := db.AuditHead(ctx)
	return seq, err
}

func appArchive(ctx context.Context, e *env) (audit.Archive, error) {
	return server.OpenArchive(ctx, e.cfg.Config)
}

func appAuditKeys(e *env) (jwk.Set, error) {
	_, keys, err := server.AuditKeys(e.cfg.Config)
	return keys, err
}
