package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
)

// smallDeclaration is a lawful 1 KiB disclosure under the demo agreements.
func smallDeclaration(size int64) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "hmrc-tax", Recipient: "hmrc", Purpose: "tax-assessment-collection", LawfulBasis: "A6-1-c",
		DataCategories: []string{"identity", "tax"}, Subjects: []api.Subject{{Type: "nino", Value: "QQ123456C"}},
		ContentType: "application/octet-stream", Size: size,
	}
}

// loadResult is the outcome of a closed-loop load: completed operations per
// second and the latency of each.
type loadResult struct {
	ops    int64
	errors int64
	// all counts every operation that succeeded, the warm-up's too: what a
	// profile of the whole run divides by.
	all       int64
	perSecond float64
	latencies []time.Duration
}

func (r *loadResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// closedLoop runs op from workers goroutines, each starting its next
// operation as soon as the last ends, for d after a warm-up.
func closedLoop(workers int, warmup, d time.Duration, op func(worker, i int) error) *loadResult {
	var (
		mu      sync.Mutex
		res     = &loadResult{}
		measure atomic.Bool
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				start := time.Now()
				err := op(w, i)
				el := time.Since(start)
				if !measure.Load() {
					if err == nil {
						mu.Lock()
						res.all++
						mu.Unlock()
					}
					continue
				}
				mu.Lock()
				if err != nil {
					res.errors++
					if res.errors <= 3 {
						fmt.Fprintf(os.Stderr, "  error: %v\n", err)
					}
				} else {
					res.ops++
					res.all++
					res.latencies = append(res.latencies, el)
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(warmup)
	measure.Store(true)
	begin := time.Now()
	time.Sleep(d)
	measure.Store(false)
	elapsed := time.Since(begin)
	stop.Store(true)
	wg.Wait()
	res.perSecond = float64(res.ops) / elapsed.Seconds()
	return res
}

// rounds is how many times each comparison alternates between the baseline
// and the gateway; the medians are compared, to damp the shared machine's noise.
const rounds = 3

func medianOf(v []float64) float64 { return median(v) }

// benchSmallExchanges is target P2: complete small exchanges (declare, 1 KiB
// upload, seal, store, audit) from 8 mTLS clients, against raw 1 KiB MinIO
// puts from 8 clients, alternating in the same run: in two requests
// (declare, then upload) and in one (the declaration with its payload).
func benchSmallExchanges(ctx context.Context, e *env, d time.Duration) ([]Metric, error) {
	const workers, size = 8, 1024
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	raw, err := e.rawStore(ctx)
	if err != nil {
		return nil, err
	}
	clients := make([]*client.Client, workers)
	for i := range clients {
		if clients[i], err = e.client("council.revenues"); err != nil {
			return nil, err
		}
	}
	twoSteps := func(w, _ int) error {
		ex, err := clients[w].Declare(ctx, smallDeclaration(size))
		if err == nil {
			_, err = clients[w].Upload(ctx, ex.ID, bytes.NewReader(payload), size)
		}
		return err
	}
	oneRequest := func(w, _ int) error {
		_, err := clients[w].SendOne(ctx, smallDeclaration(size), payload)
		return err
	}
	var (
		baseRates, twoRates, oneRates []float64
		baseCPUs, twoCPUs, oneCPUs    []float64
		two, one                      = &loadResult{}, &loadResult{}
	)
	for r := range rounds {
		cpu := e.cpuMeter()
		base := closedLoop(workers, time.Second, d, func(w, i int) error {
			_, err := raw.Put(ctx, fmt.Sprintf("small/%d/%d/%d", r, w, i), bytes.NewReader(payload), size, time.Time{})
			return err
		})
		baseCPU, cpu := cpu.per(base.all), e.cpuMeter()
		gw2 := closedLoop(workers, time.Second, d, twoSteps)
		gw2CPU, cpu := cpu.per(gw2.all), e.cpuMeter()
		gw1 := closedLoop(workers, time.Second, d, oneRequest)
		gw1CPU := cpu.per(gw1.all)
		fmt.Fprintf(os.Stderr, "  round %d: raw MinIO 1 KiB puts %.0f/s (p99 %s); small exchanges in two requests %.0f/s (p50 %s, p99 %s, %d errors), in one %.0f/s (p50 %s, p99 %s, %d errors)\n",
			r+1, base.perSecond, base.quantile(0.99).Round(time.Millisecond),
			gw2.perSecond, gw2.quantile(0.5).Round(time.Millisecond), gw2.quantile(0.99).Round(time.Millisecond), gw2.errors,
			gw1.perSecond, gw1.quantile(0.5).Round(time.Millisecond), gw1.quantile(0.99).Round(time.Millisecond), gw1.errors)
		fmt.Fprintf(os.Stderr, "    CPU per operation: raw put %s; two requests %s; one request %s\n", baseCPU, gw2CPU, gw1CPU)
		baseCPUs, twoCPUs, oneCPUs = append(baseCPUs, baseCPU.total()), append(twoCPUs, gw2CPU.total()), append(oneCPUs, gw1CPU.total())
		baseRates = append(baseRates, base.perSecond)
		twoRates, oneRates = append(twoRates, gw2.perSecond), append(oneRates, gw1.perSecond)
		two.latencies, one.latencies = append(two.latencies, gw2.latencies...), append(one.latencies, gw1.latencies...)
		two.errors, one.errors = two.errors+gw2.errors, one.errors+gw1.errors
		two.all, one.all = two.all+gw2.all, one.all+gw1.all
	}
	// What a CPU profile of the gateway over this run divides by.
	fmt.Fprintf(os.Stderr, "  small exchanges made, warm-ups included: %d in two requests, %d in one\n", two.all, one.all)
	ms := func(r *loadResult) float64 { return float64(r.quantile(0.99)) / float64(time.Millisecond) }
	// The machine's cores are shared by the clients, MinIO and the gateway:
	// while they are all busy, no ratio can pass the raw put's CPU per
	// operation over the exchange's, every process counted.
	ceiling := func(cpus []float64) float64 {
		if median(cpus) == 0 {
			return 0
		}
		return median(baseCPUs) / median(cpus)
	}
	fmt.Fprintf(os.Stderr, "  CPU per operation, all processes (medians): raw put %.2f ms, exchange in two requests %.2f ms, in one %.2f ms\n",
		median(baseCPUs), median(twoCPUs), median(oneCPUs))
	return []Metric{
		info("P2 CPU-bound ceiling of the ratio, two requests (raw put's CPU per operation / the exchange's)", ceiling(twoCPUs), "ratio"),
		info("P2 CPU-bound ceiling of the ratio, one request", ceiling(oneCPUs), "ratio"),
		ratioAtLeast("P2 small exchanges, 8 mTLS clients (vs raw 1 KiB puts)", medianOf(twoRates), medianOf(baseRates), "ops/s", 0.5),
		atMost("P2 small exchange latency p99", ms(two), "ms", 50),
		atMost("P2 small exchange errors", float64(two.errors), "errors", 0),
		ratioAtLeast("P2 small exchanges in one request, 8 mTLS clients (vs raw 1 KiB puts)", medianOf(oneRates), medianOf(baseRates), "ops/s", 0.5),
		atMost("P2 small exchange in one request latency p99", ms(one), "ms", 50),
		atMost("P2 small exchange in one request errors", float64(one.errors), "errors", 0),
	}, nil
}

// benchLarge is target P3: a 1 GiB upload and download through the gateway
// against a raw MinIO put and get of the same size, alternating in the same
// run; and, in the same rounds, the peers a council would use instead
// (peers.go): gpg + sftp to OpenSSH, and a TLS proxy in front of the MinIO.
func benchLarge(ctx context.Context, e *env, size int64, withPeers bool) ([]Metric, error) {
	raw, err := e.rawStore(ctx)
	if err != nil {
		return nil, err
	}
	c, err := e.client("council.revenues")
	if err != nil {
		return nil, err
	}
	hmrc, err := e.client("hmrc")
	if err != nil {
		return nil, err
	}
	var p *peers
	if withPeers {
		if p, err = startPeers(ctx, e, size); err != nil {
			return nil, fmt.Errorf("peers: %w", err)
		}
		defer p.close()
	}
	mib := func(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }
	var rawPuts, rawGets, gwPuts, gwGets, sftpPuts, sftpGets, proxyPuts, proxyGets []float64
	for r := range rounds {
		start, cpu := time.Now(), e.cpuMeter()
		if _, err := raw.Put(ctx, "large", newPattern(size), size, time.Time{}); err != nil {
			return nil, err
		}
		rawPut, rawPutCPU := mib(size, time.Since(start)), cpu.String()
		start, cpu = time.Now(), e.cpuMeter()
		if _, err := rawGet(ctx, raw, "large"); err != nil {
			return nil, err
		}
		rawGetRate, rawGetCPU := mib(size, time.Since(start)), cpu.String()
		_ = raw.Remove(ctx, "large", "")

		start, cpu = time.Now(), e.cpuMeter()
		ex, err := c.Send(ctx, smallDeclaration(size), newPattern(size))
		if err != nil {
			return nil, err
		}
		gwPut, gwPutCPU := mib(size, time.Since(start)), cpu.String()
		start, cpu = time.Now(), e.cpuMeter()
		body, err := hmrc.PayloadReader(ctx, ex.ID, 0)
		if err != nil {
			return nil, err
		}
		n, err := copyDiscard(body)
		body.Close()
		if err != nil {
			return nil, err
		}
		gwGet, gwGetCPU := mib(n, time.Since(start)), cpu.String()
		fmt.Fprintf(os.Stderr, "  round %d, %s: raw put %.0f MiB/s, gateway upload %.0f MiB/s; raw get %.0f MiB/s, gateway download %.0f MiB/s\n",
			r+1, humanize.IBytes(uint64(size)), rawPut, gwPut, rawGetRate, gwGet)
		fmt.Fprintf(os.Stderr, "    raw put: %s; gateway upload: %s\n    raw get: %s; gateway download: %s\n", rawPutCPU, gwPutCPU, rawGetCPU, gwGetCPU)
		rawPuts, rawGets = append(rawPuts, rawPut), append(rawGets, rawGetRate)
		gwPuts, gwGets = append(gwPuts, gwPut), append(gwGets, gwGet)
		if p == nil {
			continue
		}

		start = time.Now()
		if err := p.sftpUpload(ctx); err != nil {
			return nil, err
		}
		sftpPut := mib(size, time.Since(start))
		start = time.Now()
		n, err = p.sftpDownload(ctx)
		if err != nil {
			return nil, err
		}
		if n != size {
			return nil, fmt.Errorf("gpg + sftp: %d bytes came back, want %d", n, size)
		}
		sftpGet := mib(size, time.Since(start))
		start = time.Now()
		if _, err := p.proxy.Put(ctx, "large", newPattern(size), size, time.Time{}); err != nil {
			return nil, fmt.Errorf("put through nginx: %w", err)
		}
		proxyPut := mib(size, time.Since(start))
		start = time.Now()
		if _, err := rawGet(ctx, p.proxy, "large"); err != nil {
			return nil, fmt.Errorf("get through nginx: %w", err)
		}
		proxyGet := mib(size, time.Since(start))
		_ = p.proxy.Remove(ctx, "large", "")
		fmt.Fprintf(os.Stderr, "  round %d, %s peers: gpg + sftp up %.0f MiB/s, down %.0f MiB/s; nginx TLS proxy to MinIO put %.0f MiB/s, get %.0f MiB/s\n",
			r+1, humanize.IBytes(uint64(size)), sftpPut, sftpGet, proxyPut, proxyGet)
		sftpPuts, sftpGets = append(sftpPuts, sftpPut), append(sftpGets, sftpGet)
		proxyPuts, proxyGets = append(proxyPuts, proxyPut), append(proxyGets, proxyGet)
	}
	ms := []Metric{
		ratioAtLeast("P3 1 GiB upload through the gateway (vs raw put)", medianOf(gwPuts), medianOf(rawPuts), "MiB/s", 0.8),
		ratioAtLeast("P3 1 GiB download through the gateway (vs raw get)", medianOf(gwGets), medianOf(rawGets), "MiB/s", 0.8),
	}
	if p != nil {
		ms = append(ms,
			peerRatio("peer: 1 GiB upload through the gateway (vs gpg encrypt + sftp put to OpenSSH)", medianOf(gwPuts), medianOf(sftpPuts)),
			peerRatio("peer: 1 GiB download through the gateway (vs sftp get + gpg decrypt)", medianOf(gwGets), medianOf(sftpGets)),
			peerRatio("peer: 1 GiB upload through the gateway (vs put through an nginx TLS proxy to MinIO)", medianOf(gwPuts), medianOf(proxyPuts)),
			peerRatio("peer: 1 GiB download through the gateway (vs get through an nginx TLS proxy to MinIO)", medianOf(gwGets), medianOf(proxyGets)),
		)
	}
	return ms, nil
}

// peerRatio is a peer line: our throughput against what a council would use
// instead; ahead (ratio >= 1) is the goal.
func peerRatio(name string, v, base float64) Metric {
	m := ratioAtLeast(name, v, base, "MiB/s", 1)
	m.Peer = true
	return m
}

// benchMemory is target P4: the gateway's peak RSS while a 4 GiB payload
// streams up and back down, in a freshly started gateway process.
func benchMemory(ctx context.Context, e *env, bin string, size int64) ([]Metric, error) {
	e.stopGateway()
	if err := e.startGateway(ctx, bin); err != nil {
		return nil, err
	}
	c, err := e.client("council.revenues")
	if err != nil {
		return nil, err
	}
	ex, err := c.Send(ctx, smallDeclaration(size), newPattern(size))
	if err != nil {
		return nil, err
	}
	hmrc, err := e.client("hmrc")
	if err != nil {
		return nil, err
	}
	body, err := hmrc.PayloadReader(ctx, ex.ID, 0)
	if err != nil {
		return nil, err
	}
	_, err = copyDiscard(body)
	body.Close()
	if err != nil {
		return nil, err
	}
	rss, err := e.peakRSS()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "  gateway peak RSS over a %d GiB upload and download: %.1f MiB\n", size>>30, float64(rss)/(1<<20))
	return []Metric{atMost("P4 gateway peak RSS streaming 4 GiB", float64(rss)/(1<<20), "MiB", 128)}, nil
}

func copyDiscard(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	return io.CopyBuffer(io.Discard, r, buf)
}
