package agreements

import "strings"

// The bounds of a document's fields, by field name (docs/agreements.md
// lists them): identifiers and codes are slugs of at most 64 characters,
// free text at most 500, and every list has a most items.
const (
	MaxSlug      = 64
	MaxText      = 500
	MaxFieldName = 128
)

var fieldMax = map[string]int{
	"title": MaxText, "name": MaxText, "role": MaxText, "reference": MaxText,
	"approver": MaxText, "appropriate_policy_document": MaxText, "reason": MaxText,
	"subject_dn": MaxText,
	"allow":      MaxFieldName, "pseudonymise": MaxFieldName,
	"signed_on": 32, "completed": 32, "effective_from": 32, "expires_at": 32, "review_by": 32,
	"retention": 32, "review_after": 32,
	"issuer_fingerprint": 128,
	"revocation_hosts":   260,
	"trust_anchors":      64 << 10,
	"max_subjects":       20, "daily_volume": 20, "version": 20,
}

var itemsMax = map[string]int{
	"":      1000, // a list of parties
	"flows": 100, "signatories": 32, "instruments": 32,
	"from": 64, "to": 64,
	"purposes": 32, "lawful_bases": 32, "special_category": 32, "criminal_offence": 32,
	"exemptions": 32, "data_categories": 32,
	"allow": 512, "pseudonymise": 512,
	"revocation_hosts": 16,
}

// fieldName is the last name of a path: flows[1].purposes[0] → purposes.
func fieldName(path string) string {
	for strings.HasSuffix(path, "]") {
		i := strings.LastIndexByte(path, '[')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return path[strings.LastIndexByte(path, '.')+1:]
}

// maxLen is the most characters the field at path may hold; a field not
// listed is an identifier or a code.
func maxLen(path string) int {
	if n, ok := fieldMax[fieldName(path)]; ok {
		return n
	}
	return MaxSlug
}

func maxItems(path string) int {
	if n, ok := itemsMax[fieldName(path)]; ok {
		return n
	}
	return 32
}

// multiline reports whether the field at path may hold line ends (PEM
// certificates).
func multiline(path string) bool { return fieldName(path) == "trust_anchors" }
