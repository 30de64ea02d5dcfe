package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// schemaTypes is the Go type of every schema in api/openapi.yaml.
var schemaTypes = map[string]any{
	"Health": Health{}, "WhoAmI": WhoAmI{}, "Subject": Subject{}, "Authoriser": Authoriser{},
	"Notification": Notification{}, "ExchangeDeclaration": ExchangeDeclaration{}, "Check": Check{},
	"Decision": Decision{}, "DecisionCheck": DecisionCheck{}, "Payload": Payload{}, "Exchange": Exchange{},
	"InformationRequest": InformationRequest{}, "Request": Request{}, "RequestList": RequestList{},
	"Inbox": Inbox{}, "Notice": Notice{}, "Notices": Notices{}, "Reason": Reason{},
	"VersionBinding": VersionBinding{}, "AdminWhoAmI": AdminWhoAmI{}, "AlertDelivery": AlertDelivery{}, "AlertDeliveryList": AlertDeliveryList{},
	"ExchangeRelease": ExchangeRelease{}, "Released": Released{},
	"PartyRegistration": PartyRegistration{}, "IdentityRule": IdentityRule{},
	"Party": Party{}, "PartyList": PartyList{},
	"PartyChangeProposal": PartyChangeProposal{}, "PartyTrust": PartyTrust{}, "PartyChange": PartyChange{},
	"PartyChangeList": PartyChangeList{}, "PartyChangeApproval": PartyChangeApproval{}, "PartyApproval": PartyApproval{},
	"Agreement": Agreement{}, "Signatory": Signatory{}, "DPIA": DPIA{}, "NotificationPolicy": NotificationPolicy{},
	"Flow": Flow{}, "Instrument": Instrument{}, "FieldPolicy": FieldPolicy{},
	"AgreementList": AgreementList{}, "AgreementVersions": AgreementVersions{},
	"Override": Override{}, "NotificationRecord": NotificationRecord{},
	"Rectification": Rectification{}, "RectificationNotice": RectificationNotice{},
	"SeenCertificate": SeenCertificate{}, "CertificateList": CertificateList{},
	"Inspection": Inspection{}, "InspectedCertificate": InspectedCertificate{}, "LeafExpiry": LeafExpiry{},
	"SubjectAccessRequest": SubjectAccessRequest{}, "OverrideReview": OverrideReview{},
	"NotificationUpdate": NotificationUpdate{}, "RectificationRequest": RectificationRequest{},
	"ConsentRecord": ConsentRecord{}, "Consent": Consent{}, "Consents": Consents{}, "ConsentWithdrawal": ConsentWithdrawal{},
	"FieldError": FieldError{}, "Problem": Problem{},
	"AuditCheckpoint": AuditCheckpoint{}, "InclusionProof": InclusionProof{}, "ConsistencyProof": ConsistencyProof{},
	// The manifest inside an envelope is the envelope code's own type, which
	// the partner SDK links as well.
	"Manifest": seal.Manifest{}, "ManifestDigest": seal.Digest{}, "ManifestObject": seal.Object{},
	"ManifestEncryption": seal.Encryption{}, "Minimisation": seal.Minimisation{},
}

type openAPIDoc struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	RequestBody struct {
		Content map[string]mediaType `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Ref     string               `json:"$ref"`
		Content map[string]mediaType `json:"content"`
	} `json:"responses"`
}

type mediaType struct {
	Schema map[string]any `json:"schema"`
}

func loadDoc(t *testing.T) openAPIDoc {
	t.Helper()
	b, err := OpenAPIJSON()
	require.NoError(t, err)
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc
}

// Every schema in api/openapi.yaml has exactly the fields of the Go type the
// gateway and client encode, and every schema has its type: none is skipped.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadDoc(t)
	require.ElementsMatch(t, slices.Collect(maps.Keys(schemaTypes)), slices.Collect(maps.Keys(doc.Components.Schemas)),
		"every schema needs its Go type in schemaTypes, and every type its schema")
	for name, v := range schemaTypes {
		t.Run(name, func(t *testing.T) {
			documented := slices.Sorted(maps.Keys(doc.Components.Schemas[name].Properties))
			require.Equal(t, jsonFields(reflect.TypeOf(v)), documented)
		})
	}
}

// notAPIDocuments are the JSON bodies that are not documents of this API
// and so have no type in package api: standard formats and signed exports.
var notAPIDocuments = []string{
	"GET /openapi.json 200",          // this document
	"GET /.well-known/jwks.json 200", // a JWK set (RFC 7517)
}

// Every JSON request and response body is a named schema (and so a Go type
// of this package), never an object described inline.
func TestOpenAPIBodiesAreSchemas(t *testing.T) {
	doc := loadDoc(t)
	check := func(where string, content map[string]mediaType) {
		for mt, m := range content {
			if mt != MediaJSON && mt != MediaProblem {
				continue
			}
			if slices.Contains(notAPIDocuments, where) {
				continue
			}
			ref, _ := m.Schema["$ref"].(string)
			name, ok := strings.CutPrefix(ref, "#/components/schemas/")
			require.True(t, ok, "%s %s: the body is described inline; name it in components/schemas and give it a type in package api", where, mt)
			require.Contains(t, schemaTypes, name, "%s %s", where, mt)
		}
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			where := strings.ToUpper(method) + " " + path
			check(where+" request", op.RequestBody.Content)
			for status, r := range op.Responses {
				check(where+" "+status, r.Content)
			}
		}
	}
}

func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
