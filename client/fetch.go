package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// GatewayKeys fetches the gateway's public signing keys.
func (c *Client) GatewayKeys(ctx context.Context) (jwk.Set, error) {
	resp, err := c.get(ctx, "/.well-known/jwks.json", api.MediaJSON)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return jwk.Parse(body)
}

// Envelope fetches the sealed manifest (compact JWE) of an exchange.
func (c *Client) Envelope(ctx context.Context, id string) ([]byte, error) {
	resp, err := c.get(ctx, "/v1/exchanges/"+url.PathEscape(id)+"/envelope", api.MediaJOSE)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// OpenEnvelope fetches an exchange's envelope, decrypts it with the
// recipient's private key and verifies the gateway's signature.
func (c *Client) OpenEnvelope(ctx context.Context, id string, key jwk.Key) (*seal.Manifest, error) {
	env, err := c.Envelope(ctx, id)
	if err != nil {
		return nil, err
	}
	keys, err := c.GatewayKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("gateway keys: %w", err)
	}
	m, err := seal.OpenEnvelope(env, key, keys)
	if err != nil {
		return nil, err
	}
	if m.Exchange != id {
		return nil, fmt.Errorf("%w: manifest is for exchange %s, not %s", seal.ErrEnvelope, m.Exchange, id)
	}
	return m, nil
}

// PayloadReader opens the ciphertext of an exchange from offset.
func (c *Client) PayloadReader(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	resp, err := c.send(ctx, true, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/exchanges/"+url.PathEscape(id)+"/payload"), nil)
		if err != nil {
			return nil, err
		}
		if offset > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
		return req, nil
	})
	if err != nil {
		return nil, err
	}
	want := http.StatusOK
	if offset > 0 {
		want = http.StatusPartialContent
	}
	if resp.StatusCode != want {
		resp.Body.Close()
		return nil, fmt.Errorf("client: the gateway answered %s, not %d, for the payload from byte %d", resp.Status, want, offset)
	}
	return resp.Body, nil
}

// ErrDigest is returned when the decrypted payload is not what the manifest says.
var ErrDigest = errors.New("decrypted payload does not match the manifest")

// Fetch opens the envelope of exchange id with the recipient's private key,
// downloads the ciphertext, decrypts it into w and checks its size and
// SHA-256 against the signed manifest. On any error, what was written to w
// must be discarded. The returned manifest's data key has been wiped.
func (c *Client) Fetch(ctx context.Context, id string, key jwk.Key, w io.Writer) (*seal.Manifest, error) {
	m, err := c.OpenEnvelope(ctx, id, key)
	if err != nil {
		return nil, err
	}
	defer seal.Wipe(m.Encryption.Key)
	body, err := c.PayloadReader(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if err := Decrypt(m, body, w); err != nil {
		return nil, err
	}
	return m, nil
}

// Decrypt decrypts a payload ciphertext described by m into w, checking its
// size and SHA-256. Every segment is authenticated; a truncated or altered
// ciphertext is an error.
func Decrypt(m *seal.Manifest, ciphertext io.Reader, w io.Writer) error {
	pt, err := seal.Decrypt(ciphertext, m.Encryption.Key, m.Encryption.AAD)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), pt)
	if err != nil {
		return fmt.Errorf("decrypting payload: %w", err)
	}
	if n != m.Plaintext.Size {
		return fmt.Errorf("%w: %d bytes, manifest says %d", ErrDigest, n, m.Plaintext.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.Plaintext.SHA256 {
		return fmt.Errorf("%w: SHA-256 %s, manifest says %s", ErrDigest, got, m.Plaintext.SHA256)
	}
	return nil
}

// Progress wraps a reader of size bytes to show progress; nil shows none.
type Progress func(r io.Reader, size int64) io.Reader

// Download fetches, verifies and decrypts an exchange's payload into the
// file at path. The ciphertext is kept beside it while downloading
// (path.<exchange>.part, never plaintext); an interrupted Download resumes
// from where it stopped with a Range request. The plaintext appears at path
// only once its size and SHA-256 match the signed manifest.
func (c *Client) Download(ctx context.Context, id string, key jwk.Key, path string, progress Progress) (*seal.Manifest, error) {
	m, err := c.OpenEnvelope(ctx, id, key)
	if err != nil {
		return nil, err
	}
	defer seal.Wipe(m.Encryption.Key)
	partial := path + "." + id + ".part"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if have > m.Ciphertext.Size {
		if err := f.Truncate(0); err != nil {
			return nil, err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if have < m.Ciphertext.Size {
		body, err := c.PayloadReader(ctx, id, have)
		if err != nil {
			return nil, err
		}
		var r io.Reader = body
		if progress != nil {
			r = progress(body, m.Ciphertext.Size-have)
		}
		_, err = io.Copy(f, r)
		body.Close()
		if err != nil {
			return nil, fmt.Errorf("download interrupted at %d bytes (run again to resume): %w", have, err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".decrypting-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := Decrypt(m, f, tmp); err != nil {
		tmp.Close()
		// A corrupt ciphertext must not be resumed from.
		f.Close()
		os.Remove(partial)
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	os.Remove(partial)
	return m, nil
}
