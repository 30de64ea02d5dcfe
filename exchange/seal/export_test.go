package seal

// SmallMax is smallMax, for the tests.
const SmallMax = smallMax

// SignJWX signs as Sign did before it signed without jwx, for the tests.
func (s *Signer) SignJWX(payload []byte, typ string) ([]byte, error) { return s.signJWX(payload, typ) }

// Direct reports whether s signs without jwx.
func (s *Signer) Direct() bool { return s.priv != nil }
