package gateway

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/compliance"
)

var wireTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func fullAgreement() *agreements.Agreement {
	return &agreements.Agreement{
		ID: "police-crime", Version: 3, Status: agreements.StatusActive, Title: "Crime and safeguarding",
		Controllers:               "separate",
		Signatories:               []agreements.Signatory{{Party: "council.legal", Name: "R. Okafor", Role: "Monitoring Officer", SignedOn: agreements.MustDate("2025-12-15")}},
		AppropriatePolicyDocument: "NSC-APD-2025-03",
		Flows: []agreements.Flow{{
			Regime: agreements.RegimeUKGDPR, From: []string{"council.revenues"}, To: []string{"police.northshire"},
			Purposes: []string{"crime-prevention-detection"}, LawfulBases: []string{"A6-1-e"},
			SpecialCategory: []string{"A9-2-b", "DPA-S1-P1-1"}, CriminalOffence: []string{"A10", "DPA-S1-P2-10"},
			Exemptions:     []string{"DPA-S2-P1-2"},
			Instruments:    []agreements.Instrument{{Code: "CDA-1998-S115", Title: "Crime and Disorder Act 1998 s.115"}},
			DataCategories: []string{"identity"},
			Fields:         &agreements.FieldPolicy{Allow: []string{"nino", "name"}, Pseudonymise: []string{"nino"}, OnExtra: "strip", Subject: "nino"},
			MaxSubjects:    5, DailyVolume: 50, RequiresNamedSubject: true, AuthoriserRank: agreements.RankRequirements{agreements.KindPolice: "inspector"},
			Handler: "council.legal", EmergencyOverride: true,
		}},
		DPIA:                &agreements.DPIA{Reference: "NSC-DPIA-2025-041", Completed: agreements.MustDate("2025-12-01"), Outcome: agreements.DPIAApproved, Approver: "DPO"},
		EffectiveFrom:       agreements.MustDate("2026-01-01"),
		ExpiresAt:           agreements.MustDate("2026-02-28"),
		ReviewBy:            agreements.MustDate("2027-06-30"),
		Retention:           agreements.Duration(90 * 24 * time.Hour),
		SubjectNotification: agreements.Notification{Default: "withhold", Reason: "would prejudice an investigation", ReviewAfter: agreements.Duration(72 * time.Hour)},
		Author:              "alice", ApprovedBy: "dana", CreatedAt: wireTime, UpdatedAt: wireTime.Add(time.Hour),
		ApprovedSHA256: "9e12280a2173ca9790632b077729c68104555c6bb2509312a014d391b7ecb6f4",
	}
}

func fullParty() *agreements.Party {
	return &agreements.Party{
		ID: "police.northshire", Kind: agreements.KindPolice, Name: "Northshire Police", Status: agreements.PartySuspended,
		TrustAnchors:    "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n",
		Identity:        agreements.IdentityRule{SubjectDN: "CN=gateway,O=Northshire Police", IssuerFingerprint: "ab12"},
		RevocationHosts: []string{"crl.police.example"},
		EncryptionKey:   json.RawMessage(`{"kty":"EC","crv":"P-256","x":"x","y":"y"}`), UpdatedAt: wireTime,
		RegisteredBy: "alice", RegisteredByName: "Alice Admin", RegisteredAt: wireTime, RegistrationSHA256: "5f1c",
		DecidedBy: "dana", DecidedByName: "Dana DPO", DecidedAt: wireTime,
	}
}

func fullRectification() *compliance.Rectification {
	return &compliance.Rectification{
		ID: "rect-1", SubjectKey: "hmac-sha256:00", Action: "corrected", Description: "address", RecordedBy: "dana", CreatedAt: wireTime,
		Notices: []*compliance.Notice{{
			ID: "notice-1", RectificationID: "rect-1", Recipient: "police.northshire", Exchanges: []string{"ex-1"},
			SentAt: wireTime, AcknowledgedAt: wireTime.Add(time.Hour), Action: "corrected", Description: "address",
		}},
	}
}

func fullInspection() *certs.Inspection {
	return &certs.Inspection{
		Accepted: true, Party: "police.northshire", Registered: true, PartyStatus: "active", Problem: "none",
		Chain: []certs.InspectedCert{{
			Subject: "CN=police", Issuer: "CN=CA", Serial: "01", NotBefore: wireTime, NotAfter: wireTime.Add(time.Hour),
			Fingerprint: "ab12", URIs: []string{"spiffe://gatehouse.test/party/police.northshire"},
			Revocation: certs.StatusGood, RevocationBy: "CRL ca.crl",
		}},
		Leaf: &certs.InspectedExpiry{NotAfter: wireTime.Add(time.Hour), DaysLeft: 12},
	}
}

// Each domain → wire mapping renders exactly the JSON the domain type's own
// encoding did before the API had wire types of its own: the same fields,
// names, omissions and nulls, both fully populated and empty.
func TestWireJSONMatchesDomainEncoding(t *testing.T) {
	now := wireTime
	withEffective := func(a *agreements.Agreement) any {
		return struct {
			*agreements.Agreement
			SHA256          string            `json:"sha256"`
			EffectiveStatus agreements.Status `json:"effective_status"`
		}{a, agreements.Digest(a), a.EffectiveStatus(now)}
	}
	for name, tc := range map[string]struct {
		domain, wire any
		full         bool
	}{
		"ok/agreement-full":      {withEffective(fullAgreement()), agreementView(fullAgreement(), now), true},
		"ok/agreement-empty":     {withEffective(&agreements.Agreement{}), agreementView(&agreements.Agreement{}, now), false},
		"ok/party-full":          {fullParty(), partyView(fullParty()), true},
		"ok/party-empty":         {&agreements.Party{}, partyView(&agreements.Party{}), false},
		"ok/override-full":       {fullOverride(), overrideView(fullOverride()), true},
		"ok/override-empty":      {&compliance.Override{}, overrideView(&compliance.Override{}), false},
		"ok/notification-full":   {fullNotification(), notificationView(fullNotification()), true},
		"ok/notification-empty":  {&compliance.Notification{}, notificationView(&compliance.Notification{}), false},
		"ok/rectification-full":  {fullRectification(), rectificationView(fullRectification()), true},
		"ok/rectification-empty": {&compliance.Rectification{}, rectificationView(&compliance.Rectification{}), false},
		"ok/certificate-full":    {fullSeen(), seenCertificateView(fullSeen()), true},
		"ok/certificate-empty":   {&certs.SeenCertificate{}, seenCertificateView(&certs.SeenCertificate{}), false},
		"ok/inspection-full":     {fullInspection(), inspectionView(fullInspection()), true},
		"ok/inspection-empty":    {&certs.Inspection{}, inspectionView(&certs.Inspection{}), false},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.full {
				requireFilled(t, reflect.ValueOf(tc.domain), name)
			}
			want, err := json.Marshal(tc.domain)
			require.NoError(t, err)
			got, err := json.Marshal(tc.wire)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(got))
		})
	}
}

func fullOverride() *compliance.Override {
	return &compliance.Override{
		ExchangeID: "ex-1", ReviewBy: wireTime, State: compliance.OverrideReviewed, Outcome: compliance.OutcomeJustified,
		Notes: "a child at risk", Reviewer: "dana", ReviewedAt: wireTime.Add(time.Hour), CreatedAt: wireTime,
	}
}

func fullNotification() *compliance.Notification {
	return &compliance.Notification{ExchangeID: "ex-1", State: "withheld", Reason: "investigation", ReviewAt: wireTime, UpdatedBy: "dana", UpdatedAt: wireTime,
		ConfirmBy: wireTime, ConfirmedBy: "dana", ConfirmedAt: wireTime}
}

func fullSeen() *certs.SeenCertificate {
	return &certs.SeenCertificate{
		Fingerprint: "ab12", Party: "police.northshire", Serial: "01", Subject: "CN=police", Issuer: "CN=CA",
		NotAfter: wireTime, FirstSeen: wireTime, LastSeen: wireTime, DaysLeft: 30,
	}
}

// requireFilled fails if any exported field of v (through pointers, slices
// and nested structs) is empty: a full fixture exercises every field, so a
// field added to a domain type without its mapping is caught.
func requireFilled(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		require.False(t, v.IsNil(), "%s is empty in the full fixture", path)
		requireFilled(t, v.Elem(), path)
	case reflect.Slice:
		require.NotZero(t, v.Len(), "%s is empty in the full fixture", path)
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range v.Len() {
				requireFilled(t, v.Index(i), path+"[]")
			}
		}
	case reflect.Struct:
		exported := 0
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				exported++
				requireFilled(t, v.Field(i), path+"."+f.Name)
			}
		}
		if exported == 0 { // time.Time, agreements.Date
			require.False(t, v.IsZero(), "%s is empty in the full fixture", path)
		}
	default:
		require.False(t, v.IsZero(), "%s is empty in the full fixture", path)
	}
}
