package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
)

// Login checks email and password against the account of role and starts a session. Any
// mismatch, and an unregistered account, is ErrBadCredentials.
func (s *Service) Login(ctx context.Context, email, password string, role domain.Role) (TokenPair, error) {
	if _, ok := s.keys[role]; !ok {
		return TokenPair{}, domain.Invalidf(domain.CodeValidation, "unknown role %q", role)
	}
	email = NormalizeEmail(email)
	var (
		id     uuid.UUID
		hash   string
		status string
	)
	err := s.pool.QueryRow(ctx, `SELECT id, password_hash, status FROM accounts WHERE role = $1 AND email = $2`,
		string(role), email).Scan(&id, &hash, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		// Spend the time a real check takes, so that timing does not tell which e-mails exist.
		if _, err := s.verify(ctx, password, s.dummyHash); errors.Is(err, ErrBusy) {
			return TokenPair{}, err
		}
		return TokenPair{}, ErrBadCredentials
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: find account: %w", err)
	}
	match, err := s.verify(ctx, password, hash)
	if errors.Is(err, ErrBusy) {
		return TokenPair{}, err
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: verify password of %s: %w", id, err)
	}
	if !match || status != StatusRegistered {
		return TokenPair{}, ErrBadCredentials
	}
	var pair TokenPair
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		out, err := s.issueAndStore(ctx, tx, domain.Actor{ID: id, Role: role}, email, uuid.New())
		pair = out
		return err
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: %w", err)
	}
	return pair, nil
}

func (s *Service) issueAndStore(ctx context.Context, tx pgx.Tx, actor domain.Actor, email string, session uuid.UUID) (TokenPair, error) {
	out, err := s.issue(actor, email, session)
	if err != nil {
		return TokenPair{}, err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO auth_refresh_tokens (jti, family_id, account_id, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`,
		out.refreshJTI, session, actor.ID, out.issuedAt, out.pair.RefreshExpiresAt)
	if err != nil {
		return TokenPair{}, fmt.Errorf("store refresh token: %w", err)
	}
	return out.pair, nil
}

// Refresh spends refreshToken and returns the next pair of its session. A spent token presented
// again revokes the whole session (every token issued from the same login) and is ErrTokenRevoked;
// so are the tokens of a logged-out session or an unregistered account.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	p, err := s.parse(refreshToken, useRefresh)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.checkRevoked(ctx, p); err != nil {
		return TokenPair{}, err
	}
	var (
		pair   TokenPair
		reused []revocation
	)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var spent bool
		err := tx.QueryRow(ctx, `SELECT spent_at IS NOT NULL FROM auth_refresh_tokens WHERE jti = $1 FOR UPDATE`,
			p.TokenID).Scan(&spent)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: unknown refresh token", ErrTokenRevoked)
		}
		if err != nil {
			return fmt.Errorf("find refresh token: %w", err)
		}
		if spent {
			reused = []revocation{{id: p.Session, kind: revokeSession, expiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)}}
			return insertRevocations(ctx, tx, reused)
		}
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM accounts WHERE id = $1`, p.Actor.ID).Scan(&status); err != nil {
			return fmt.Errorf("find account %s: %w", p.Actor.ID, err)
		}
		if status != StatusRegistered {
			return fmt.Errorf("%w: account is %s", ErrTokenRevoked, status)
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET spent_at = $2 WHERE jti = $1`, p.TokenID, s.cfg.Now()); err != nil {
			return fmt.Errorf("spend refresh token: %w", err)
		}
		pair, err = s.issueAndStore(ctx, tx, p.Actor, p.Email, p.Session)
		return err
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	if reused != nil {
		s.rev.revoked(reused)
		return TokenPair{}, fmt.Errorf("refresh: %w: a spent refresh token was reused; session %s revoked", ErrTokenRevoked, p.Session)
	}
	return pair, nil
}

// Logout ends the session of p, the login its access token came from: that access token and
// every refresh and access token issued in the session are refused until they expire, whether or
// not refreshToken is given. A non-empty refreshToken of the same account also ends the session
// it belongs to; an expired one is ignored (it is refused anyway); one that does not verify or is
// another account's is a validation error on the field refresh_token, and nothing is revoked.
func (s *Service) Logout(ctx context.Context, p Principal, refreshToken string) error {
	rows := []revocation{
		{id: p.TokenID, kind: revokeToken, expiresAt: p.ExpiresAt},
		{id: p.Session, kind: revokeSession, expiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)},
	}
	if refreshToken != "" {
		r, err := s.parse(refreshToken, useRefresh)
		switch {
		case errors.Is(err, ErrTokenExpired):
		case err != nil || r.Actor != p.Actor:
			f := domain.Fields{"refresh_token": "is not a valid refresh token of this account"}
			return f.Err()
		default:
			rows = append(rows,
				revocation{id: r.TokenID, kind: revokeToken, expiresAt: r.ExpiresAt},
				revocation{id: r.Session, kind: revokeSession, expiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)})
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error { return insertRevocations(ctx, tx, rows) })
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	s.rev.revoked(rows)
	return nil
}
