package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Revocation errors.
var (
	ErrRevoked = errors.New("certificate is revoked")
	// ErrRevocationUnknown: no current CRL or OCSP answer covers the
	// certificate; refused unless the policy says otherwise.
	ErrRevocationUnknown = errors.New("certificate revocation status is unknown")
)

// Status is a certificate's revocation status.
type Status string

// Revocation statuses.
const (
	StatusGood    Status = "good"
	StatusRevoked Status = "revoked"
	StatusUnknown Status = "unknown"
)

// RevocationPolicy configures revocation checking.
type RevocationPolicy struct {
	// CRLFiles and CRLURLs are CRLs to use besides those a certificate
	// names in its CRL distribution points.
	CRLFiles []string
	CRLURLs  []string
	// UseDistributionPoints fetches the CRLs certificates point to.
	UseDistributionPoints bool
	// OCSP asks the responder a certificate names when no CRL covers it.
	OCSP bool
	// AllowUnknown lets a certificate whose status is unknown through; by
	// default it is refused.
	AllowUnknown bool
	// HTTPClient fetches CRLs and OCSP answers; nil means a client with a
	// 5 s timeout that follows no redirects.
	HTTPClient *http.Client
}

// crl is one CRL with its revoked serials.
type crl struct {
	list    *x509.RevocationList
	revoked map[string]bool
	source  string
	// verified records issuer fingerprints whose signature check passed.
	verified sync.Map
}

func newCRL(list *x509.RevocationList, source string) *crl {
	c := &crl{list: list, revoked: make(map[string]bool, len(list.RevokedCertificateEntries)), source: source}
	for _, e := range list.RevokedCertificateEntries {
		c.revoked[string(e.SerialNumber.Bytes())] = true
	}
	return c
}

// current reports whether the CRL may be relied on at now.
func (c *crl) current(now time.Time) bool {
	return !now.Before(c.list.ThisUpdate) && (c.list.NextUpdate.IsZero() || now.Before(c.list.NextUpdate))
}

// signedBy checks (once per issuer) that the CRL is signed by issuer.
func (c *crl) signedBy(issuer *x509.Certificate) bool {
	fp := fingerprint(issuer)
	if ok, seen := c.verified.Load(fp); seen {
		return ok.(bool)
	}
	ok := bytes.Equal(c.list.RawIssuer, issuer.RawSubject) && c.list.CheckSignatureFrom(issuer) == nil
	c.verified.Store(fp, ok)
	return ok
}

type ocspAnswer struct {
	status     Status
	nextUpdate time.Time
}

// Checker checks certificates against CRLs and OCSP. It is safe for
// concurrent use; lookups during a handshake touch only memory unless a CRL
// or OCSP answer must be fetched.
type Checker struct {
	policy RevocationPolicy
	hc     *http.Client
	now    func() time.Time

	mu       sync.RWMutex
	bySource map[string]*crl   // configured files and URLs
	crls     map[string][]*crl // configured, by raw issuer
	byURL    map[string]*crl   // fetched distribution points
	ocsp     map[string]ocspAnswer
	// fetching de-duplicates concurrent fetches of one URL.
	fetching sync.Map
}

// NewChecker loads the configured CRLs.
func NewChecker(p RevocationPolicy) (*Checker, error) {
	c := &Checker{policy: p, hc: p.HTTPClient, now: time.Now, crls: map[string][]*crl{}, byURL: map[string]*crl{}, ocsp: map[string]ocspAnswer{}}
	if c.hc == nil {
		// No redirects: an allowed host must not send the gateway elsewhere.
		c.hc = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return c, c.Reload(context.Background())
}

// SetClock replaces the clock; for tests.
func (c *Checker) SetClock(now func() time.Time) { c.now = now }

// Reload rereads the configured CRL files and URLs. A source that cannot be
// read keeps its last good copy, so a bad file never lets a revoked
// certificate through; once that copy passes its next update, the status of
// the certificates it covers becomes unknown.
func (c *Checker) Reload(ctx context.Context) error {
	var errs []error
	c.mu.RLock()
	previous := c.bySource
	files, urls := slices.Clone(c.policy.CRLFiles), slices.Clone(c.policy.CRLURLs)
	c.mu.RUnlock()
	sources := map[string]*crl{}
	load := func(source string, fetch func() (*crl, error)) {
		l, err := fetch()
		if err != nil {
			errs = append(errs, err)
			if old := previous[source]; old != nil {
				sources[source] = old
			}
			return
		}
		sources[source] = l
	}
	for _, f := range files {
		load(f, func() (*crl, error) {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			l, err := ParseCRL(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			return newCRL(l, f), nil
		})
	}
	for _, u := range urls {
		load(u, func() (*crl, error) { return c.fetchCRL(ctx, u) })
	}
	byIssuer := map[string][]*crl{}
	for _, l := range sources {
		byIssuer[string(l.list.RawIssuer)] = append(byIssuer[string(l.list.RawIssuer)], l)
	}
	c.mu.Lock()
	c.bySource, c.crls = sources, byIssuer
	c.mu.Unlock()
	return errors.Join(errs...)
}

// SetCRLFiles replaces the configured CRL files and reloads.
func (c *Checker) SetCRLFiles(ctx context.Context, files []string) error {
	c.mu.Lock()
	c.policy.CRLFiles = slices.Clone(files)
	c.mu.Unlock()
	return c.Reload(ctx)
}

// RefreshDue rereads configured CRLs that are past their next update.
func (c *Checker) RefreshDue(ctx context.Context) error {
	now := c.now()
	c.mu.RLock()
	due := false
	for _, l := range c.bySource {
		if !l.current(now) {
			due = true
		}
	}
	c.mu.RUnlock()
	if !due {
		return nil
	}
	return c.Reload(ctx)
}

// ParseCRL parses a CRL in DER or PEM.
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	if block, _ := pem.Decode(b); block != nil {
		b = block.Bytes
	}
	return x509.ParseRevocationList(b)
}

func (c *Checker) fetchCRL(ctx context.Context, url string) (*crl, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CRL %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %w", url, err)
	}
	l, err := ParseCRL(b)
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %w", url, err)
	}
	return newCRL(l, url), nil
}

// Hosts are the hosts (a name, or name:port) that the CRL distribution
// points and OCSP responders a certificate names may be fetched from. A
// partner's CA chooses those addresses, so the gateway contacts only the
// hosts registered for that party (or configured for its own CA); any
// other address is not fetched, and says nothing about the certificate.
type Hosts []string

// MaxHosts is the most revocation hosts one list may name.
const MaxHosts = 16

// Allows reports whether rawURL is an http(s) URL on one of the hosts.
func (h Hosts) Allows(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return false
	}
	for _, allowed := range h {
		if strings.EqualFold(allowed, u.Host) || strings.EqualFold(allowed, u.Hostname()) && u.Port() == "" {
			return true
		}
	}
	return false
}

// CheckChain checks every certificate of a verified chain but its root (a
// trust anchor is trusted by being configured; withdraw it to revoke it),
// fetching the addresses the certificates name only from hosts. It returns
// nil, ErrRevoked or, if the policy refuses unknown status,
// ErrRevocationUnknown, each naming the certificate.
func (c *Checker) CheckChain(ctx context.Context, chain []*x509.Certificate, hosts Hosts) error {
	for i := 0; i+1 < len(chain); i++ {
		switch st, src := c.Status(ctx, chain[i], chain[i+1], hosts); st {
		case StatusRevoked:
			return fmt.Errorf("%w: %s (serial %s, per %s)", ErrRevoked, chain[i].Subject, hex.EncodeToString(chain[i].SerialNumber.Bytes()), src)
		case StatusUnknown:
			if !c.policy.AllowUnknown {
				return fmt.Errorf("%w: %s (serial %s): %s", ErrRevocationUnknown, chain[i].Subject, hex.EncodeToString(chain[i].SerialNumber.Bytes()), src)
			}
		}
	}
	return nil
}

// Status returns the revocation status of cert, issued by issuer, and what
// said so. The certificate is revoked if any current CRL correctly signed
// by its issuer lists it, whichever is looked at first; it is good if at
// least one such CRL covers it and none lists it; otherwise OCSP (if on)
// decides, or the status is unknown. Distribution points and OCSP
// responders are fetched only from hosts.
func (c *Checker) Status(ctx context.Context, cert, issuer *x509.Certificate, hosts Hosts) (Status, string) {
	now := c.now()
	serial := cert.SerialNumber.Bytes()
	c.mu.RLock()
	candidates := slices.Clone(c.crls[string(cert.RawIssuer)])
	c.mu.RUnlock()
	skipped := ""
	if c.policy.UseDistributionPoints {
		for _, u := range cert.CRLDistributionPoints {
			if !hosts.Allows(u) {
				skipped = "; distribution point " + boundedURL(u) + " is not on an allowed host"
				continue
			}
			if l := c.distributionPoint(ctx, u, now); l != nil {
				candidates = append(candidates, l)
			}
		}
	}
	var good *crl
	for _, l := range candidates {
		if !l.current(now) || !l.signedBy(issuer) {
			continue
		}
		if l.revoked[string(serial)] {
			return StatusRevoked, "CRL " + l.source
		}
		if good == nil {
			good = l
		}
	}
	if good != nil {
		return StatusGood, "CRL " + good.source
	}
	if c.policy.OCSP && len(cert.OCSPServer) > 0 {
		return c.ocspStatus(ctx, cert, issuer, now, hosts)
	}
	return StatusUnknown, "no current CRL or OCSP answer" + skipped
}

// boundedURL is a certificate's URL as far as a log line or answer shows it.
func boundedURL(u string) string {
	if len(u) > 100 {
		u = u[:100] + "…"
	}
	return strconv.Quote(u)
}

// distributionPoint returns the cached CRL at url, fetching it if it is
// missing or past its next update.
func (c *Checker) distributionPoint(ctx context.Context, url string, now time.Time) *crl {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil
	}
	c.mu.RLock()
	l := c.byURL[url]
	c.mu.RUnlock()
	if l != nil && l.current(now) {
		return l
	}
	done := make(chan struct{})
	if wait, busy := c.fetching.LoadOrStore(url, done); busy {
		<-wait.(chan struct{})
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.byURL[url]
	}
	defer func() { c.fetching.Delete(url); close(done) }()
	fresh, err := c.fetchCRL(ctx, url)
	if err != nil {
		return l // a stale copy is still refused by current(); nil if none
	}
	c.mu.Lock()
	c.byURL[url] = fresh
	c.mu.Unlock()
	return fresh
}

// ocspStatus asks the certificate's OCSP responder, caching the answer
// until its next update.
func (c *Checker) ocspStatus(ctx context.Context, cert, issuer *x509.Certificate, now time.Time, hosts Hosts) (Status, string) {
	key := fingerprint(issuer) + ":" + cert.SerialNumber.String()
	c.mu.RLock()
	a, ok := c.ocsp[key]
	c.mu.RUnlock()
	if ok && now.Before(a.nextUpdate) {
		return a.status, "OCSP (cached)"
	}
	reqBytes, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return StatusUnknown, "OCSP request: " + err.Error()
	}
	asked := false
	for _, server := range cert.OCSPServer {
		if !hosts.Allows(server) {
			continue
		}
		asked = true
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, server, bytes.NewReader(reqBytes))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/ocsp-request")
		resp, err := c.hc.Do(req)
		if err != nil {
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			continue
		}
		r, err := ocsp.ParseResponseForCert(body, cert, issuer)
		if err != nil || r.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		if now.Before(r.ThisUpdate.Add(-5*time.Minute)) || (!r.NextUpdate.IsZero() && !now.Before(r.NextUpdate)) {
			continue // not current
		}
		st := StatusUnknown
		switch r.Status {
		case ocsp.Good:
			st = StatusGood
		case ocsp.Revoked:
			st = StatusRevoked
		}
		next := r.NextUpdate
		if next.IsZero() {
			next = now.Add(time.Hour)
		}
		c.mu.Lock()
		c.ocsp[key] = ocspAnswer{status: st, nextUpdate: next}
		c.mu.Unlock()
		return st, "OCSP " + server
	}
	if !asked {
		return StatusUnknown, "no current CRL, and no OCSP responder on an allowed host"
	}
	return StatusUnknown, "no OCSP answer"
}

// fingerprint is the hex SHA-256 of a certificate.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Fingerprint is the lower-case hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string { return fingerprint(c) }
