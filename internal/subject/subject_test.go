package subject

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonical(t *testing.T) {
	for name, tc := range map[string]struct{ typ, value, wantType, wantValue string }{
		"nino/spaces-and-case":        {"nino", "qq 12 34 56 c", "nino", "QQ123456C"},
		"nino/tabs-newlines":          {" NINO ", "QQ\t123456\nC", "nino", "QQ123456C"},
		"nino/no-break-space":         {"nino", "QQ\u00a0123456C", "nino", "QQ123456C"},
		"code/council-ref":            {"council-ref", " ns-ct 2291 ", "council-ref", "NS-CT2291"},
		"code/uprn":                   {"uprn", "1000 2345 6789", "uprn", "100023456789"},
		"name/fold-and-collapse":      {"name", "  Jane   DOE ", "name", "jane doe"},
		"name/nfc-composed":           {"name", "Jos\u00e9 N\u00fa\u00f1ez", "name", "jos\u00e9 n\u00fa\u00f1ez"},
		"name/nfc-decomposed":         {"name", "JOSE\u0301 NU\u0301N\u0303EZ", "name", "jos\u00e9 n\u00fa\u00f1ez"},
		"name/full-case-fold":         {"name", "STRASSE", "name", "strasse"},
		"name/sharp-s":                {"name", "Straße", "name", "strasse"},
		"name-dob/with-date":          {"name-dob", "Jane  Doe 1990-04-01", "name-dob", "jane doe 1990-04-01"},
		"name/suffix-type":            {"family-name", "O'BRIEN", "family-name", "o'brien"},
		"code/decomposed-becomes-nfc": {"council-ref", "e\u0301", "council-ref", "\u00c9"},
	} {
		t.Run(name, func(t *testing.T) {
			typ, v := Canonical(tc.typ, tc.value)
			require.Equal(t, tc.wantType, typ)
			require.Equal(t, tc.wantValue, v)
			typ2, v2 := Canonical(typ, v)
			require.Equal(t, typ, typ2, "idempotent")
			require.Equal(t, v, v2, "idempotent")
		})
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range [][2]string{{"nino", "qq 12 34 56 c"}, {"name", "José Núñez"}, {"name-dob", "STRASSE 1990-04-01"}, {"x", "\u0345\u0399"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, value string) {
		ct, cv := Canonical(typ, value)
		ct2, cv2 := Canonical(ct, cv)
		if ct != ct2 || cv != cv2 {
			t.Fatalf("not idempotent: %q %q → %q %q → %q %q", typ, value, ct, cv, ct2, cv2)
		}
	})
}
