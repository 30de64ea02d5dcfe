package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Errors the service returns; the gateway turns them into problem+json.
var (
	// ErrNotFound: no such exchange, or not one the caller may see.
	ErrNotFound = errors.New("exchange not found")
	// ErrState: the exchange is not in a state that allows the action.
	ErrState = errors.New("exchange is not in a state that allows this")
	// ErrSizeMismatch: the body is longer or shorter than declared.
	ErrSizeMismatch = errors.New("payload size differs from the declared size")
	// ErrTooLarge: the payload is over the configured maximum.
	ErrTooLarge = errors.New("payload is larger than the gateway accepts")
	// ErrDigestMismatch: the body's SHA-256 differs from the declared one.
	ErrDigestMismatch = errors.New("payload SHA-256 differs from the declared digest")
	// ErrExpired: the payload's retention ended and it was deleted.
	ErrExpired = errors.New("the payload's retention has ended")
	// ErrRange: a byte range outside the payload.
	ErrRange = errors.New("range is outside the payload")
	// ErrUnavailable: storage or the audit record could not be written, so
	// nothing was done (fail closed).
	ErrUnavailable = errors.New("storage is unavailable; nothing was done")
	// ErrStorageFull: the object store refused the payload because it is
	// full or over its quota; nothing was stored.
	ErrStorageFull = errors.New("the object store is full or over its quota; nothing was stored")
)

// RefusedError is returned when the decision does not allow the action.
type RefusedError struct {
	Decision agreements.Decision
	// Receipt is the signed receipt of the refusal's audit entry.
	Receipt string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused under %q: %v", e.Decision.Agreement, e.Decision.FailedCodes())
}

// Store keeps exchanges. Every change goes through Update, whose function
// runs in one transaction together with the audit entries it appends.
type Store interface {
	Exchange(ctx context.Context, id string) (*Exchange, error)
	Inbox(ctx context.Context, recipient string, q InboxQuery) ([]*Exchange, error)
	// CountSent counts exchanges sender declared to recipient under agreement
	// since the given time, leaving out exclude.
	CountSent(ctx context.Context, sender, recipient, agreement string, since time.Time, exclude string) (int, error)
	// Expired lists exchanges whose stored payload's retention ended before the given time.
	Expired(ctx context.Context, before time.Time, limit int) ([]string, error)
	Request(ctx context.Context, id string) (*Request, error)
	Requests(ctx context.Context, q RequestQuery) ([]*Request, error)
	// KeyResource returns what an idempotency key created (idem.ErrUnknown if nothing).
	KeyResource(ctx context.Context, scope, key string) (fingerprint, resource string, err error)
	// Consents returns party's consent records under ref, one per subject.
	Consents(ctx context.Context, party, ref string) ([]*Consent, error)
	Update(ctx context.Context, fn func(Tx) error) error
}

// Tx is a store transaction.
type Tx interface {
	audit.Appender
	CreateExchange(ctx context.Context, e *Exchange) error
	// LockExchange reads an exchange for update; other writers wait.
	LockExchange(ctx context.Context, id string) (*Exchange, error)
	SaveExchange(ctx context.Context, e *Exchange) error
	CreateRequest(ctx context.Context, r *Request) error
	// LockRequest reads a request for update.
	LockRequest(ctx context.Context, id string) (*Request, error)
	SaveRequest(ctx context.Context, r *Request) error
	// ReserveVolume counts one more exchange from sender to recipient under
	// agreement on day (UTC), only while fewer than limit are counted
	// (limit 0: always); false means the limit is reached and nothing changed.
	ReserveVolume(ctx context.Context, agreement, sender, recipient string, day time.Time, limit int) (bool, error)
	// ClaimKey claims an idempotency key for what this transaction creates.
	ClaimKey(ctx context.Context, scope, key, fingerprint, resource string, now time.Time) error
}

// InboxQuery selects a page of an inbox.
type InboxQuery struct {
	// States to include; empty means every readable state.
	States []State
	// After is the id of the last exchange of the previous page.
	After string
	Limit int
}

// ObjectInfo locates a stored object.
type ObjectInfo struct {
	Bucket  string
	Key     string
	Version string
	Size    int64
}

// Objects stores sealed payloads.
type Objects interface {
	// Put stores exactly size bytes from r under key (to EOF if size < 0),
	// locked against deletion until retainUntil where the store supports it.
	Put(ctx context.Context, key string, r io.Reader, size int64, retainUntil time.Time) (ObjectInfo, error)
	// Get reads length bytes from offset (length < 0: to the end).
	Get(ctx context.Context, key, version string, offset, length int64) (io.ReadCloser, error)
	Remove(ctx context.Context, key, version string) error
}

// Registry returns the current snapshot of parties and agreements.
type Registry interface {
	Snapshot(ctx context.Context) (*agreements.Registry, error)
}

// Config holds the service's settings.
type Config struct {
	// Issuer names the gateway in manifests.
	Issuer string
	// MaxPayloadSize is the largest payload accepted, in bytes.
	MaxPayloadSize int64
	// OneRequestMax is the largest payload Send takes with its declaration;
	// zero turns the one-request form off.
	OneRequestMax int64
	// SubjectKey is the HMAC key for subject identifiers, version 2; a
	// keyring (SubjectKeys), if set, is used instead.
	SubjectKey  []byte
	SubjectKeys *audit.SubjectKeyring
	// PseudonymKey is the master key for pseudonymised payload fields.
	PseudonymKey []byte
	// DefaultRetention applies to payloads delivered under no agreement
	// (emergency overrides).
	DefaultRetention time.Duration
}

// Service runs exchanges.
type Service struct {
	cfg      Config
	store    Store
	objects  Objects
	registry Registry
	signer   *seal.Signer
	log      *slog.Logger
	now      func() time.Time
	receipts ReceiptIssuer
	keys     keyCache // recipients' parsed encryption keys
}

// ReceiptIssuer signs the receipt of a committed audit entry
// (audit.Receipts).
type ReceiptIssuer interface {
	Issue(e *audit.Entry) (string, error)
}

// SetReceipts makes every answer that records a decision or a delivery
// carry the signed receipt of its audit entry.
func (s *Service) SetReceipts(r ReceiptIssuer) { s.receipts = r }

// receipt is the receipt of a committed entry, or "" if the service signs
// none. The entry is durable whatever happens here: a receipt that cannot
// be signed is logged and left out, never turned into a failure of what
// was done.
func (s *Service) receipt(e *audit.Entry) string {
	if s.receipts == nil || e == nil {
		return ""
	}
	r, err := s.receipts.Issue(e)
	if err != nil {
		s.log.Error("signing a receipt failed", slog.Int64(logkey.Seq, e.Seq), slog.Any(logkey.Error, err))
		return ""
	}
	return r
}

// New returns a service.
func New(cfg Config, store Store, objects Objects, registry Registry, signer *seal.Signer, log *slog.Logger) *Service {
	s := &Service{cfg: cfg, store: store, objects: objects, registry: registry, signer: signer, log: log}
	s.SetClock(time.Now)
	return s
}

// SetClock replaces the clock; for tests. Times are kept in UTC at
// microsecond precision, the precision both SQL backends store.
func (s *Service) SetClock(now func() time.Time) {
	s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) }
}

// update runs fn in a store transaction; any storage failure becomes
// ErrUnavailable so that callers fail closed.
func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	err := s.store.Update(ctx, fn)
	if err == nil {
		return nil
	}
	var refused *RefusedError
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrRequestNotFound) || errors.Is(err, ErrState) || errors.Is(err, errVolumeReached) || errors.As(err, &refused) {
		return err
	}
	if _, ok := valid.As(err); ok {
		return err
	}
	if errors.Is(err, idem.ErrReused) {
		return err
	}
	return unavailable(err)
}

func unavailable(err error) error { return fmt.Errorf("%w: %v", ErrUnavailable, err) }

// Get returns an exchange the caller sent or receives.
func (s *Service) Get(ctx context.Context, caller, id string) (*Exchange, error) {
	e, err := s.store.Exchange(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Sender != caller && (e.Recipient != caller || !e.State.VisibleToRecipient()) {
		return nil, ErrNotFound
	}
	return e, nil
}

// Inbox lists exchanges delivered to the caller. It refuses to list states
// the recipient may not know of (an exchange not yet delivered).
func (s *Service) Inbox(ctx context.Context, caller string, q InboxQuery) ([]*Exchange, error) {
	for _, st := range q.States {
		if !st.VisibleToRecipient() {
			return nil, valid.Errors{{Path: "state", Rule: "enum",
				Message: fmt.Sprintf("%q is not one of delivered, fetched, acknowledged, expired", st)}}
		}
	}
	if len(q.States) == 0 {
		q.States = []State{StateDelivered, StateFetched, StateAcknowledged}
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	return s.store.Inbox(ctx, caller, q)
}

// replay looks up what an idempotency key created for scope. It returns ""
// if the key is new, the resource id if the same request was made with it,
// and idem.ErrReused if another request was.
func (s *Service) replay(ctx context.Context, scope, key, fingerprint string) (string, error) {
	id, err := idem.Replay(ctx, s.store, scope, key, fingerprint)
	if err != nil && !errors.Is(err, idem.ErrReused) {
		return "", unavailable(err)
	}
	return id, err
}

// payloadDigest is the keyed digest that stands for a payload's SHA-256
// in the database and the record (audit.PayloadDigest).
func (s *Service) payloadDigest(sha256Hex string) string {
	if s.cfg.SubjectKeys != nil {
		return s.cfg.SubjectKeys.PayloadDigest(sha256Hex)
	}
	return audit.PayloadDigest(s.cfg.SubjectKey, audit.FirstKeyVersion, sha256Hex)
}

// subjectKey is the key new records use for a subject identifier.
func (s *Service) subjectKey(typ, value string) string {
	if s.cfg.SubjectKeys != nil {
		return s.cfg.SubjectKeys.Key(typ, value)
	}
	return audit.SubjectKey(s.cfg.SubjectKey, typ, value)
}
