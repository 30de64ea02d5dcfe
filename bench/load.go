package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store"
)

// make load: an open-loop load at a fixed rate, driven by vegeta's attack
// library (github.com/tsenart/vegeta/v12: requests start on schedule, with
// more workers as needed, whether or not earlier ones have finished, so a slow
// gateway cannot hide its queueing), of five operations at equal shares, each
// an attack of its own over mutual TLS with the party's certificate:
//
//	declare   a lawful disclosure is declared (and decided): 201
//	refuse    a disclosure no agreement allows is declared: 403 "refused"
//	upload    a 4 KiB payload for an exchange declared before the run
//	envelope  the recipient fetches an exchange's envelope
//	payload   the recipient fetches its payload
//
// Afterwards every envelope fetched must open with the recipient's key and
// every payload fetched must decrypt to what was sent; the audit record must
// hold exactly one decision per declaration sent, one seal per upload, one
// envelope fetch and one payload fetch per request that succeeded, and its
// chain must verify.

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
	Rate     float64 `json:"rate_per_second"`
	Duration string  `json:"duration"`
	Achieved float64 `json:"achieved_per_second"`
	// Late counts requests started more than 10 ms after their turn.
	Late  int        `json:"late"`
	Ops   []*opStats `json:"ops"`
	Audit struct {
		Decisions        int  `json:"decisions"`
		Declarations     int  `json:"declarations_sent"`
		Sealed           int  `json:"sealed"`
		Uploads          int  `json:"uploads_succeeded"`
		EnvelopesFetched int  `json:"envelopes_fetched"`
		Envelopes        int  `json:"envelope_fetches_succeeded"`
		Fetched          int  `json:"fetched"`
		Fetches          int  `json:"fetches_succeeded"`
		ChainVerifies    bool `json:"chain_verifies"`
		EveryoneCounts   bool `json:"counts_match"`
	} `json:"audit"`
}

// loadOp is one attack of the mix: its targets, and the check of each answer.
type loadOp struct {
	name   string
	party  string
	target vegeta.Targeter
	check  func(r *vegeta.Result) error
}

// mtlsClient is the HTTP client of one party's attack: its own certificate,
// the development CA, HTTP/1.1 keep-alive connections as a partner's SDK uses.
func mtlsClient(e *env, party string) (*http.Client, error) {
	cfg, err := client.TLSConfig(e.cfg.CertFile(party), e.cfg.KeyFile(party), e.cfg.CAFile())
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: cfg, ForceAttemptHTTP2: false,
			MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
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
	gatewayKeys, err := recipient.GatewayKeys(ctx)
	if err != nil {
		return err
	}
	const nOps = 5
	perOp := int(rate * d.Seconds() / nOps)
	payload := make([]byte, 4096)
	_, _ = rand.Read(payload)

	// Before the run: exchanges to upload to, and exchanges to fetch (with
	// their manifests, to decrypt what the run fetches).
	fmt.Fprintf(os.Stderr, "preparing: %d declarations to upload to, 50 exchanges to fetch\n", perOp+nOps)
	// Paced under the default per-party rate limit (200/s).
	pace := time.NewTicker(time.Second / 150)
	defer pace.Stop()
	toUpload := make([]string, perOp+nOps) // a few spare: the pacer may start one more
	for i := range toUpload {
		<-pace.C
		x, err := council.Declare(ctx, loadDeclaration(int64(len(payload))))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		toUpload[i] = x.ID
	}
	toFetch := make([]string, 50)
	manifests := map[string]*seal.Manifest{}
	for i := range toFetch {
		<-pace.C
		x, err := council.Send(ctx, loadDeclaration(int64(len(payload))), bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		toFetch[i] = x.ID
		if manifests[x.ID], err = recipient.OpenEnvelope(ctx, x.ID, recipientKey); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}

	declaration := func(purpose string) []byte {
		d := loadDeclaration(int64(len(payload)))
		if purpose != "" {
			d.Purpose = purpose
		}
		b, _ := json.Marshal(d)
		return b
	}
	jsonHeader := http.Header{"Content-Type": {api.MediaJSON}, "Accept": {api.MediaJSON}}
	exchangeURL := func(id, what string) string { return e.url + "/v1/exchanges/" + url.PathEscape(id) + "/" + what }
	var uploadNext, envelopeNext, payloadNext atomic.Int64
	status := func(want int) func(r *vegeta.Result) error {
		return func(r *vegeta.Result) error {
			if int(r.Code) != want {
				return fmt.Errorf("%d %s", r.Code, problemCode(r.Body))
			}
			return nil
		}
	}
	exchangeID := func(r *vegeta.Result) string {
		parts := strings.Split(r.URL, "/")
		id, _ := url.PathUnescape(parts[len(parts)-2])
		return id
	}
	ops := []loadOp{
		{name: "declare", party: "council.revenues",
			target: vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: e.url + "/v1/exchanges", Body: declaration(""), Header: jsonHeader}),
			check:  status(http.StatusCreated)},
		{name: "refuse", party: "council.revenues",
			target: vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: e.url + "/v1/exchanges", Body: declaration("marketing"), Header: jsonHeader}),
			check: func(r *vegeta.Result) error {
				if r.Code == http.StatusForbidden && problemCode(r.Body) == "refused" {
					return nil // refused, as it should be
				}
				if r.Code < 300 {
					return errors.New("marketing was allowed")
				}
				return fmt.Errorf("%d %s", r.Code, problemCode(r.Body))
			}},
		{name: "upload", party: "council.revenues",
			target: func(t *vegeta.Target) error {
				i := int(uploadNext.Add(1) - 1)
				if i >= len(toUpload) {
					return vegeta.ErrNoTargets
				}
				*t = vegeta.Target{Method: http.MethodPut, URL: exchangeURL(toUpload[i], "payload"), Body: payload,
					Header: http.Header{"Content-Type": {"application/octet-stream"}, "Accept": {api.MediaJSON}}}
				return nil
			},
			check: func(r *vegeta.Result) error {
				if r.Code/100 != 2 {
					return fmt.Errorf("%d %s", r.Code, problemCode(r.Body))
				}
				return nil
			}},
		{name: "envelope", party: "hmrc",
			target: func(t *vegeta.Target) error {
				id := toFetch[int(envelopeNext.Add(1)-1)%len(toFetch)]
				*t = vegeta.Target{Method: http.MethodGet, URL: exchangeURL(id, "envelope")}
				return nil
			},
			check: func(r *vegeta.Result) error {
				if r.Code != http.StatusOK {
					return fmt.Errorf("%d %s", r.Code, problemCode(r.Body))
				}
				m, err := seal.OpenEnvelope(r.Body, recipientKey, gatewayKeys)
				if err != nil {
					return fmt.Errorf("envelope does not open: %w", err)
				}
				defer seal.Wipe(m.Encryption.Key)
				if m.Exchange != exchangeID(r) {
					return fmt.Errorf("envelope is for %s", m.Exchange)
				}
				return nil
			}},
		{name: "payload", party: "hmrc",
			target: func(t *vegeta.Target) error {
				id := toFetch[int(payloadNext.Add(1)-1)%len(toFetch)]
				*t = vegeta.Target{Method: http.MethodGet, URL: exchangeURL(id, "payload")}
				return nil
			},
			check: func(r *vegeta.Result) error {
				if r.Code != http.StatusOK {
					return fmt.Errorf("%d %s", r.Code, problemCode(r.Body))
				}
				var got bytes.Buffer
				if err := client.Decrypt(manifests[exchangeID(r)], bytes.NewReader(r.Body), &got); err != nil {
					return err
				}
				if !bytes.Equal(got.Bytes(), payload) {
					return errors.New("payload decrypts to other bytes")
				}
				return nil
			}},
	}
	stats := make([]*opStats, len(ops))
	for i, op := range ops {
		stats[i] = &opStats{Name: op.name, errs: map[string]int{}}
	}

	fmt.Fprintf(os.Stderr, "load: %.0f requests/s for %s (%d requests), open loop (vegeta)\n", rate, d, perOp*nOps)
	startAudit, err := auditHead(ctx, e)
	if err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		late  int
		start = time.Now()
		// Each attack runs at an equal share of the rate, for exactly perOp requests.
		pacer  = vegeta.ConstantPacer{Freq: 1, Per: time.Duration(float64(time.Second) * nOps / rate)}
		period = pacer.Per
	)
	for i, op := range ops {
		hc, err := mtlsClient(e, op.party)
		if err != nil {
			return err
		}
		atk := vegeta.NewAttacker(vegeta.Client(hc), vegeta.MaxBody(1<<20))
		began := time.Now() // the attack's own start, within a moment; its hit n is due (n+1) periods after it
		results := atk.Attack(limitTargets(op.target, perOp), pacer, 0, op.name)
		wg.Go(func() {
			defer hc.CloseIdleConnections()
			for r := range results {
				if r.Error == vegeta.ErrNoTargets.Error() {
					continue // the end of the attack, not a request
				}
				err := op.check(r)
				if err == nil && r.Code == 0 {
					err = errors.New(r.Error)
				}
				mu.Lock()
				s := stats[i]
				s.Sent++
				s.latencies = append(s.latencies, r.Latency)
				if r.Timestamp.Sub(began.Add(time.Duration(r.Seq+1)*period)) > 10*time.Millisecond {
					late++
				}
				if err != nil {
					s.Errors++
					s.errs[err.Error()]++
				} else {
					s.OK++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	sent := 0
	for _, s := range stats {
		sent += s.Sent
		slices.Sort(s.latencies)
		s.P50ms, s.P99ms = ms(quantile(s.latencies, 0.5)), ms(quantile(s.latencies, 0.99))
		if len(s.latencies) > 0 {
			s.MaxMs = ms(s.latencies[len(s.latencies)-1])
		}
	}
	rep := &LoadReport{Rate: rate, Duration: d.String(), Achieved: float64(sent) / elapsed.Seconds(), Late: late, Ops: stats}

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
	a.EnvelopesFetched, a.Envelopes = counts[audit.TypeEnvelopeFetched], stats[3].OK
	a.Fetched, a.Fetches = counts[audit.TypeExchangeFetched], stats[4].OK
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
	a.EveryoneCounts = a.Decisions == a.Declarations && a.Sealed == a.Uploads &&
		a.EnvelopesFetched == a.Envelopes && a.Fetched == a.Fetches

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

// limitTargets ends an attack after n targets.
func limitTargets(t vegeta.Targeter, n int) vegeta.Targeter {
	var used atomic.Int64
	return func(tgt *vegeta.Target) error {
		if used.Add(1) > int64(n) {
			return vegeta.ErrNoTargets
		}
		return t(tgt)
	}
}

// problemCode is the code of a problem+json answer, or "" if it is none.
func problemCode(body []byte) string {
	var p api.Problem
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Code
}

func loadDeclaration(size int64) *api.ExchangeDeclaration {
	d := smallDeclaration(size)
	d.Subjects = []api.Subject{{Type: "nino", Value: "QQ123456C"}}
	return d
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
	fmt.Fprintf(tw, "\naudit: %d decisions for %d declarations sent; %d seals for %d uploads; %d envelope fetches recorded for %d; %d payload fetches recorded for %d; chain verifies: %v\n",
		a.Decisions, a.Declarations, a.Sealed, a.Uploads, a.EnvelopesFetched, a.Envelopes, a.Fetched, a.Fetches, a.ChainVerifies)
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
