package valid

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ControlAt returns the byte index of the first character of s that has no
// place in free text, or -1: C0 and C1 control characters and DEL (a line
// end or tab only where multiline allows them), bidirectional overrides and
// isolates, zero-width characters, the byte-order mark and the line and
// paragraph separators. Such characters reach terminals, CSV registers and
// e-mails, where they hide or reorder what a reader sees.
func ControlAt(s string, multiline bool) int {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		case r == '\n' || r == '\r' || r == '\t':
			if !multiline {
				return i
			}
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return i
		case r == 0x061c, r == 0x180e, r >= 0x200b && r <= 0x200f, r >= 0x2028 && r <= 0x202e,
			r >= 0x2060 && r <= 0x2069, r == 0xfeff, r >= 0xfff9 && r <= 0xfffb:
			return i
		}
	}
	return -1
}

// Text records a problem if s, a free-text field, is longer than max
// characters or holds a character ControlAt refuses (no line ends), and
// reports whether it is fit.
func (e *Errors) Text(path, s string, max int) bool {
	if n := utf8.RuneCountInString(s); n > max {
		e.Add(path, "maximum", "is longer than %d characters", max)
		return false
	}
	if i := ControlAt(s, false); i >= 0 {
		e.Add(path, "control-character", "%s", ControlMessage(s, i))
		return false
	}
	return true
}

// ControlMessage says which character ControlAt found at byte i of s.
func ControlMessage(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return fmt.Sprintf("holds a control or invisible formatting character (%s at character %d)",
		strconv.QuoteRuneToASCII(r), utf8.RuneCountInString(s[:i])+1)
}
