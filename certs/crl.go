package certs

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Revoked is one revoked certificate in the CA's revocation register.
type Revoked struct {
	Serial    string    `json:"serial"` // lower-case hex
	RevokedAt time.Time `json:"revoked_at"`
	Reason    string    `json:"reason"`
	Subject   string    `json:"subject,omitempty"`
}

// Register is the CA's list of revoked certificates and its CRL number,
// kept beside the CA (revoked.json) and published as a signed CRL (ca.crl).
type Register struct {
	Number  int64     `json:"crl_number"`
	Revoked []Revoked `json:"revoked"`
}

// Reason codes (RFC 5280 §5.3.1) by name.
var reasonCodes = map[string]int{
	"unspecified": 0, "key-compromise": 1, "ca-compromise": 2, "affiliation-changed": 3,
	"superseded": 4, "cessation-of-operation": 5, "certificate-hold": 6, "privilege-withdrawn": 9,
}

// ReasonCode returns the RFC 5280 code of a reason name.
func ReasonCode(name string) (int, error) {
	code, ok := reasonCodes[name]
	if !ok {
		var names []string
		for n := range reasonCodes {
			names = append(names, n)
		}
		sort.Strings(names)
		return 0, fmt.Errorf("reason %q is not one of %s", name, strings.Join(names, ", "))
	}
	return code, nil
}

func registerPath(dir string) string { return filepath.Join(dir, "revoked.json") }

// CRLPath is where a PKI folder's CRL is written.
func CRLPath(dir string) string { return filepath.Join(dir, "ca.crl") }

// LoadRegister reads the revocation register of the CA in dir (empty if none).
func LoadRegister(dir string) (*Register, error) {
	b, err := os.ReadFile(registerPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return &Register{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r Register
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", registerPath(dir), err)
	}
	return &r, nil
}

// Revoke adds a serial to the register (once).
func (r *Register) Revoke(serial, reason, subject string, at time.Time) error {
	serial = strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(serial, ":", ""), "0x"))
	if _, ok := new(big.Int).SetString(serial, 16); !ok {
		return fmt.Errorf("serial %q is not hexadecimal", serial)
	}
	if _, err := ReasonCode(reason); err != nil {
		return err
	}
	for _, e := range r.Revoked {
		if e.Serial == serial {
			return nil
		}
	}
	r.Revoked = append(r.Revoked, Revoked{Serial: serial, RevokedAt: at.UTC(), Reason: reason, Subject: subject})
	return nil
}

// Publish signs a new CRL of the register with the CA, valid until
// now+validity, and writes it (PEM) and the register to dir.
func (r *Register) Publish(dir string, ca *Authority, now time.Time, validity time.Duration) error {
	r.Number++
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(r.Number),
		ThisUpdate: now.Add(-time.Minute),
		NextUpdate: now.Add(validity),
	}
	for _, e := range r.Revoked {
		n, _ := new(big.Int).SetString(e.Serial, 16)
		code, _ := ReasonCode(e.Reason)
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: n, RevocationTime: e.RevokedAt, ReasonCode: code,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return fmt.Errorf("signing the CRL: %w", err)
	}
	if err := writeAtomic(CRLPath(dir), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(registerPath(dir), append(b, '\n'), 0o600)
}

// writeAtomic writes a file by renaming a temporary one over it, so that a
// reader (the gateway reloading its CRL) never sees half a file.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// IssueFromCSR signs a partner's certificate signing request for partyID:
// the CSR's signature and key are checked (ECDSA P-256/P-384, or RSA of at
// least 3072 bits), the subject is the party id, the only SAN is the party's
// URI, the EKU is client authentication, and the lifetime is bounded.
func (a *Authority) IssueFromCSR(csrPEM []byte, trustDomain, partyID string, validity time.Duration, crlURL string, now time.Time) (*x509.Certificate, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM certificate request found")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	if err := CheckKey(&x509.Certificate{PublicKey: csr.PublicKey}, 3072); err != nil {
		return nil, err
	}
	if validity <= 0 || validity > 397*24*time.Hour {
		return nil, fmt.Errorf("validity %s is outside (0, 397 days]", validity)
	}
	id, err := PartyURI(trustDomain, partyID)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: partyID, Organization: csr.Subject.Organization},
		URIs:        []*url.URL{id},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if crlURL != "" {
		tmpl.CRLDistributionPoints = []string{crlURL}
	}
	leaf, err := a.issue(tmpl, csr.PublicKey, validity, now)
	if err != nil {
		return nil, err
	}
	return leaf.Cert, nil
}
