package exchange

import (
	"sync"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// maxCachedKeys bounds the parsed keys kept: far more parties than a
// gateway registers, with their rotated keys.
const maxCachedKeys = 1024

// keyCache keeps recipients' encryption keys parsed, by their registered
// JWK text, so that an exchange does not parse its recipient's key again.
// A rotated key is other text, parsed once when first used; a key that
// does not parse is not kept.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]jwk.Key
}

// parse returns the key b holds, as seal.ParseKey does.
func (c *keyCache) parse(b []byte) (jwk.Key, error) {
	c.mu.Lock()
	k, ok := c.keys[string(b)]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := seal.ParseKey(b)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = map[string]jwk.Key{}
	}
	c.keys[string(b)] = k
	return k, nil
}
