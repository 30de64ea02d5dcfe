// Package subject canonicalises data subject identifiers, so that one person
// written two ways ("qq 12 34 56 c", "QQ123456C"; "José" composed or
// decomposed, any case) is one identifier wherever identifiers are compared
// or hashed: the audit record's subject keys, declarations, requests and
// subject-access searches.
package subject

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Identifier types with a rule of their own. Any other type is kept as a
// code: its value loses all white space and is upper-cased after NFC.
const (
	// TypeNINO is a National Insurance number: letters upper-case, no spaces.
	TypeNINO = "nino"
	// TypeName is a person's name: NFC, case-folded, white space runs as one space.
	TypeName = "name"
	// TypeNameDOB is a name and a date of birth, canonicalised as a name.
	TypeNameDOB = "name-dob"
)

// Canonical returns the canonical form of an identifier of type typ. The
// type is trimmed and lower-cased. The value is first put in Unicode NFC,
// then:
//
//   - nino, and every type without a rule of its own (uprn, council-ref,
//     …): all white space removed, upper-cased;
//   - name, name-dob and any type ending in "-name": case-folded (Unicode
//     full case folding, so "STRASSE" and "straße" agree), white space
//     trimmed and each run of it made one space, NFC again.
//
// Canonical is idempotent: Canonical of a canonical identifier is itself.
func Canonical(typ, value string) (string, string) {
	typ = strings.ToLower(strings.TrimSpace(typ))
	value = norm.NFC.String(value)
	switch {
	case IsName(typ):
		return typ, canonicalName(value)
	default:
		return typ, canonicalCode(value)
	}
}

// IsName reports whether identifiers of type typ are names (compared
// case-folded, with their spaces) rather than codes.
func IsName(typ string) bool {
	return typ == TypeName || typ == TypeNameDOB || strings.HasSuffix(typ, "-name")
}

// canonicalCode removes white space and upper-cases.
func canonicalCode(v string) string {
	return norm.NFC.String(strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, v)))
}

// canonicalName case-folds and collapses white space.
func canonicalName(v string) string {
	folded := cases.Fold().String(v)
	return norm.NFC.String(strings.Join(strings.FieldsFunc(folded, unicode.IsSpace), " "))
}
