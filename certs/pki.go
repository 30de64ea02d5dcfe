// Package certs issues and checks the certificates that tell the gateway who
// is connecting: a small PKI, party identity from certificates, and the TLS
// policy of the gateway's listener.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Authority is a certificate authority that can issue server and party
// certificates. Development and small deployments use it; agencies may bring
// their own PKI instead.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewAuthority creates a self-signed ECDSA P-256 CA.
func NewAuthority(commonName string, validity time.Duration, now time.Time) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Gatehouse"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// LoadAuthority reads a CA certificate and key from PEM files.
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	cert, err := ReadCertificate(certFile)
	if err != nil {
		return nil, err
	}
	key, err := ReadPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%s: not a CA certificate", certFile)
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// Leaf is an issued certificate with its private key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// IssueServer issues a server certificate for the given names and addresses.
func (a *Authority) IssueServer(commonName string, dnsNames []string, ips []net.IP, validity time.Duration, now time.Time) (*Leaf, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		DNSNames:    dnsNames,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return a.issue(tmpl, nil, validity, now)
}

// IssueParty issues a client certificate that identifies partyID in
// trustDomain by its URI SAN spiffe://<trust-domain>/party/<id>.
func (a *Authority) IssueParty(trustDomain, partyID string, validity time.Duration, now time.Time) (*Leaf, error) {
	return a.IssuePartyFor(trustDomain, partyID, nil, validity, now)
}

// IssuePartyFor is IssueParty for a given public key (a partner's CSR); a nil
// key generates a new P-256 key.
func (a *Authority) IssuePartyFor(trustDomain, partyID string, pub crypto.PublicKey, validity time.Duration, now time.Time) (*Leaf, error) {
	id, err := PartyURI(trustDomain, partyID)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: partyID},
		URIs:        []*url.URL{id},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return a.issue(tmpl, pub, validity, now)
}

func (a *Authority) issue(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration, now time.Time) (*Leaf, error) {
	var key crypto.Signer
	if pub == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		key, pub = k, k.Public()
	}
	tmpl.SerialNumber = newSerial()
	tmpl.NotBefore = now.Add(-5 * time.Minute)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(a.Cert.NotAfter) {
		tmpl.NotAfter = a.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, pub, a.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key}, nil
}

func newSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

// EncodeCertificate returns the PEM encoding of cert.
func EncodeCertificate(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodePrivateKey returns the PKCS#8 PEM encoding of key.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteCertificate writes cert as PEM, readable by all.
func WriteCertificate(path string, cert *x509.Certificate) error {
	return os.WriteFile(path, EncodeCertificate(cert), 0o644)
}

// WritePrivateKey writes key as PKCS#8 PEM, readable only by the owner.
func WritePrivateKey(path string, key crypto.Signer) error {
	b, err := EncodePrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// ReadCertificate reads the first certificate of a PEM file.
func ReadCertificate(path string) (*x509.Certificate, error) {
	certs, err := ReadCertificates(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ReadCertificates reads every certificate of a PEM file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ErrNoCertificate is returned for PEM data without a certificate.
var ErrNoCertificate = errors.New("no PEM certificate found")

// ParseCertificates parses every CERTIFICATE block of PEM data.
func ParseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, pemData = pem.Decode(pemData)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, ErrNoCertificate
	}
	return out, nil
}

// ReadPrivateKey reads a PKCS#8, PKCS#1 or SEC 1 PEM private key.
func ReadPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM private key found", path)
	}
	var key any
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported private key type %T", path, key)
	}
	return signer, nil
}

// LoadOrCreateAuthority loads ca.crt and ca.key from dir, or creates a new CA
// named commonName there. created says which happened.
func LoadOrCreateAuthority(dir, commonName string, validity time.Duration, now time.Time) (ca *Authority, created bool, err error) {
	crt, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if _, err := os.Stat(crt); err == nil {
		ca, err := LoadAuthority(crt, key)
		return ca, false, err
	}
	if ca, err = NewAuthority(commonName, validity, now); err != nil {
		return nil, false, err
	}
	if err := WritePrivateKey(key, ca.Key); err != nil {
		return nil, false, err
	}
	return ca, true, WriteCertificate(crt, ca.Cert)
}

// WriteLeaf writes dir/name.crt and dir/name.key (mode 0600).
func WriteLeaf(dir, name string, leaf *Leaf) error {
	if err := WritePrivateKey(filepath.Join(dir, name+".key"), leaf.Key); err != nil {
		return err
	}
	return WriteCertificate(filepath.Join(dir, name+".crt"), leaf.Cert)
}
