package api

import "time"

// SeenCertificate is a party certificate the gateway has accepted.
type SeenCertificate struct {
	// SHA256 is the certificate's fingerprint (lower-case hex).
	SHA256    string    `json:"sha256"`
	Party     string    `json:"party"`
	Serial    string    `json:"serial"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotAfter  time.Time `json:"not_after"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	DaysLeft  int       `json:"days_left"`
}

// CertificateList answers GET /admin/v1/certificates, soonest to expire first.
type CertificateList struct {
	Certificates []SeenCertificate `json:"certificates"`
}

// Inspection answers POST /admin/v1/certificates/inspect: what the gateway
// would make of a certificate chain.
type Inspection struct {
	// Accepted says whether the gateway would serve requests made with this
	// chain: the handshake succeeds and it identifies a registered, active
	// party.
	Accepted bool `json:"accepted"`
	// Party is the party it would identify, if any.
	Party string `json:"party,omitempty"`
	// Registered says whether Party is registered with the gateway.
	Registered bool `json:"registered"`
	// PartyStatus is the registered party's status: active or suspended.
	PartyStatus string `json:"party_status,omitempty"`
	// Problem says why it would be refused.
	Problem string                 `json:"problem,omitempty"`
	Chain   []InspectedCertificate `json:"chain"`
	Leaf    *LeafExpiry            `json:"leaf,omitempty"`
}

// InspectedCertificate is one certificate of the presented (or verified) chain.
type InspectedCertificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	URIs      []string  `json:"uris,omitempty"`
	// Revocation is good, revoked or unknown; empty for the trust anchor.
	Revocation string `json:"revocation,omitempty"`
	// RevocationSource says what answered: a CRL or an OCSP responder.
	RevocationSource string `json:"revocation_source,omitempty"`
}

// LeafExpiry says how long the leaf certificate has left.
type LeafExpiry struct {
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}
