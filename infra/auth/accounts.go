package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/commerce-dev/commerce/domain"
)

// Account statuses.
const (
	// StatusRegistered accounts may log in (the original system's name; migration 00202 renamed
	// the rows stored as REGISTERED).
	StatusRegistered = "REGISTERED"
	// StatusUnregistered is a soft-deleted user: kept for orders and reviews, no longer able to
	// log in, its tokens refused.
	StatusUnregistered = "UNREGISTERED"
)

// GradeBronze is every user's grade at sign-up.
const GradeBronze = "BRONZE"

// Error codes of the refusals this package returns.
const (
	// CodeDuplicateEmail: the e-mail is already registered for the role (Conflict).
	CodeDuplicateEmail = "DUPLICATE_EMAIL"
	// CodeAddressLimit: the user already has MaxAddresses addresses (Invalid, a business rule).
	CodeAddressLimit = "ADDRESS_LIMIT"
	// CodeAccountNotFound: no such account of that role (NotFound).
	CodeAccountNotFound = "ACCOUNT_NOT_FOUND"
	// CodeAddressNotFound: no such address of that user (NotFound).
	CodeAddressNotFound = "ADDRESS_NOT_FOUND"
)

// MaxAddresses is how many addresses a user may keep.
const MaxAddresses = 3

// Account is a user's, seller's or supervisor's account, without its password.
type Account struct {
	// ID is the account id, the sub claim of its tokens.
	ID uuid.UUID
	// Role is the account's role.
	Role domain.Role
	// Name is the account holder's name.
	Name string
	// Email is stored trimmed and in lower case.
	Email string
	// Phone is empty for a supervisor without one.
	Phone string
	// Status is StatusRegistered or StatusUnregistered.
	Status string
	// CreatedAt is the sign-up time.
	CreatedAt time.Time
	// UpdatedAt is the last change.
	UpdatedAt time.Time
}

// Profile is a user's public profile.
type Profile struct {
	// NickName is shown instead of the name; it starts as the name.
	NickName string
	// ProfileImageURL may be empty.
	ProfileImageURL string
	// Grade is BRONZE at sign-up.
	Grade string
	// UpdatedAt is the last change.
	UpdatedAt time.Time
}

// User is a USER account with its profile.
type User struct {
	Account
	// Profile is the user's profile.
	Profile Profile
}

// NewAccount is what sign-up and seller creation take.
type NewAccount struct {
	// Name is 1-50 characters, not blank.
	Name string
	// Email is a plain address, unique per role.
	Email string
	// Password follows CheckPassword.
	Password string
	// Phone follows CheckPhone; optional for supervisors only.
	Phone string
}

// UserChanges are the fields PATCH /users/me may change; nil leaves a field as it is.
type UserChanges struct {
	// Name is the new name.
	Name *string
	// Password is the new password; it needs CurrentPassword.
	Password *string
	// CurrentPassword is the account's password before the change: a stolen access token alone
	// does not take the account over. A wrong one is ErrWrongPassword.
	CurrentPassword *string
	// Phone is the new phone number.
	Phone *string
	// Session is the session the change is made from. A new password revokes every other
	// session of the account (whoever else knew the old password is logged out); this one stays.
	Session uuid.UUID
}

// AddressInput is a delivery address as the user writes it; every field is required.
type AddressInput struct {
	// Receiver is who receives the parcel.
	Receiver string
	// Address1 is the street address.
	Address1 string
	// Address2 is the detail (building, flat).
	Address2 string
	// Zipcode is the postal code.
	Zipcode string
	// Phone is the receiver's Korean mobile number.
	Phone string
	// ReceiveType is one of ReceiveTypes.
	ReceiveType string
	// ReceiveMessage is a note for the courier.
	ReceiveMessage string
}

// Address is a stored delivery address of a user.
type Address struct {
	AddressInput
	// ID is the address id.
	ID uuid.UUID
	// UserID is the owner.
	UserID uuid.UUID
	// CreatedAt is when it was added.
	CreatedAt time.Time
	// UpdatedAt is the last change.
	UpdatedAt time.Time
}

const accountColumns = `a.id, a.role, a.name, a.email, coalesce(a.phone, ''), a.status, a.created_at, a.updated_at`

const userQuery = `SELECT ` + accountColumns + `, p.nick_name, coalesce(p.profile_image_url, ''), p.grade, p.updated_at
	FROM accounts a JOIN user_profiles p ON p.user_id = a.id`

func scanAccount(row pgx.Row, extra ...any) (Account, error) {
	var a Account
	var role string
	dest := append([]any{&a.ID, &role, &a.Name, &a.Email, &a.Phone, &a.Status, &a.CreatedAt, &a.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Account{}, err
	}
	a.Role = domain.Role(role)
	return a, nil
}

func scanUser(row pgx.Row) (User, error) {
	var p Profile
	a, err := scanAccount(row, &p.NickName, &p.ProfileImageURL, &p.Grade, &p.UpdatedAt)
	if err != nil {
		return User{}, err
	}
	return User{Account: a, Profile: p}, nil
}

func accountNotFound(role domain.Role, id uuid.UUID) error {
	return domain.NotFoundf(CodeAccountNotFound, "no %s account %s", strings.ToLower(string(role)), id)
}

// constraintError turns the constraint violations callers can cause into domain errors.
func constraintError(err error) error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err
	}
	switch pg.ConstraintName {
	case "accounts_role_email_key":
		return domain.Conflictf(CodeDuplicateEmail, "the e-mail is already registered")
	case "user_addresses_at_most_3":
		return domain.Invalidf(CodeAddressLimit, "a user keeps at most %d addresses", MaxAddresses)
	}
	return err
}

// SignUp creates a REGISTERED user with a BRONZE profile whose nick name is the name.
func (s *Service) SignUp(ctx context.Context, in NewAccount) (User, error) {
	if err := checkAccount(in, true); err != nil {
		return User{}, err
	}
	id, err := s.insertAccount(ctx, domain.RoleUser, in, false)
	if err != nil {
		return User{}, fmt.Errorf("sign up: %w", err)
	}
	return s.User(ctx, id)
}

// insertAccount inserts the account (and a user's profile). With ensure, an account of the role
// with that e-mail already there is not an error: its id is returned.
func (s *Service) insertAccount(ctx context.Context, role domain.Role, in NewAccount, ensure bool) (uuid.UUID, error) {
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return uuid.Nil, err
	}
	var phone *string
	if in.Phone != "" {
		phone = &in.Phone
	}
	email := NormalizeEmail(in.Email)
	name := strings.TrimSpace(in.Name)
	id := uuid.New()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		conflict := ""
		if ensure {
			conflict = " ON CONFLICT (role, email) DO NOTHING"
		}
		tag, err := tx.Exec(ctx, `INSERT INTO accounts (id, role, email, password_hash, name, phone)
			VALUES ($1, $2, $3, $4, $5, $6)`+conflict, id, string(role), email, hash, name, phone)
		if err != nil {
			return constraintError(err)
		}
		if tag.RowsAffected() == 0 {
			return tx.QueryRow(ctx, `SELECT id FROM accounts WHERE role = $1 AND email = $2`, string(role), email).Scan(&id)
		}
		if role == domain.RoleUser {
			_, err := tx.Exec(ctx, `INSERT INTO user_profiles (user_id, nick_name, grade) VALUES ($1, $2, $3)`, id, name, GradeBronze)
			return err
		}
		return nil
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert %s account: %w", role, err)
	}
	return id, nil
}

// User returns the user id, whatever its status. Not a user: NotFound.
func (s *Service) User(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, userQuery+` WHERE a.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, accountNotFound(domain.RoleUser, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("find user %s: %w", id, err)
	}
	return u, nil
}

// ActiveUser is User, but an unregistered user is NotFound: the public view.
func (s *Service) ActiveUser(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := s.User(ctx, id)
	if err == nil && u.Status != StatusRegistered {
		return User{}, accountNotFound(domain.RoleUser, id)
	}
	return u, err
}

// Users lists users of every status, oldest first, and the total count.
func (s *Service) Users(ctx context.Context, offset, limit int) ([]User, int64, error) {
	rows, err := s.pool.Query(ctx, userQuery+` ORDER BY a.created_at, a.id OFFSET $1 LIMIT $2`, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	total, err := s.count(ctx, domain.RoleUser)
	return users, total, err
}

func (s *Service) count(ctx context.Context, role domain.Role) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE role = $1`, string(role)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s accounts: %w", role, err)
	}
	return n, nil
}

// UpdateUser changes what ch sets on a REGISTERED user.
func (s *Service) UpdateUser(ctx context.Context, id uuid.UUID, ch UserChanges) (User, error) {
	f := make(domain.Fields)
	if ch.Name != nil {
		f.Text("name", *ch.Name, 1, MaxNameLength)
	}
	if ch.Password != nil {
		if msg := CheckPassword(*ch.Password); msg != "" {
			f["password"] = msg
		}
		if ch.CurrentPassword == nil {
			f["current_password"] = "is required to change the password"
		}
	}
	if ch.Phone != nil {
		if msg := CheckPhone(*ch.Phone); msg != "" {
			f["phone"] = msg
		}
	}
	if err := f.Err(); err != nil {
		return User{}, err
	}
	var name, hash *string
	if ch.Name != nil {
		n := strings.TrimSpace(*ch.Name)
		name = &n
	}
	if ch.Password != nil {
		if err := s.checkCurrentPassword(ctx, id, *ch.CurrentPassword); err != nil {
			return User{}, err
		}
		h, err := s.hash(ctx, *ch.Password)
		if err != nil {
			return User{}, fmt.Errorf("update user %s: %w", id, err)
		}
		hash = &h
	}
	var revoked []revocation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE accounts SET name = coalesce($2, name), password_hash = coalesce($3, password_hash),
				phone = coalesce($4, phone), updated_at = now()
			WHERE id = $1 AND role = 'USER' AND status = 'REGISTERED'`, id, name, hash, ch.Phone)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return accountNotFound(domain.RoleUser, id)
		}
		if hash == nil {
			return nil
		}
		if revoked, err = s.otherSessions(ctx, tx, id, ch.Session); err != nil {
			return err
		}
		return insertRevocations(ctx, tx, revoked)
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %s: %w", id, err)
	}
	s.rev.revoked(revoked)
	return s.User(ctx, id)
}

// ErrWrongPassword refuses a password change whose current password does not match.
var ErrWrongPassword = errors.New("current_password does not match the account's password")

// checkCurrentPassword returns nil when password is the REGISTERED user id's password.
func (s *Service) checkCurrentPassword(ctx context.Context, id uuid.UUID, password string) error {
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT password_hash FROM accounts WHERE id = $1 AND role = 'USER' AND status = 'REGISTERED'`, id).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return accountNotFound(domain.RoleUser, id)
	}
	if err != nil {
		return fmt.Errorf("find the password of user %s: %w", id, err)
	}
	match, err := s.verify(ctx, password, hash)
	if err != nil {
		return fmt.Errorf("check the password of user %s: %w", id, err)
	}
	if !match {
		return ErrWrongPassword
	}
	return nil
}

// otherSessions returns revocations of the account's sessions that can still refresh, except
// keep, each kept until the last token it can match has expired.
func (s *Service) otherSessions(ctx context.Context, tx pgx.Tx, account, keep uuid.UUID) ([]revocation, error) {
	rows, err := tx.Query(ctx, `
		SELECT family_id, max(expires_at) FROM auth_refresh_tokens
		WHERE account_id = $1 AND family_id <> $2 AND expires_at > $3
		GROUP BY family_id`, account, keep, s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("list the other sessions: %w", err)
	}
	defer rows.Close()
	var out []revocation
	for rows.Next() {
		var r revocation
		if err := rows.Scan(&r.id, &r.expiresAt); err != nil {
			return nil, fmt.Errorf("list the other sessions: %w", err)
		}
		r.kind = revokeSession
		out = append(out, r)
	}
	return out, rows.Err()
}

// Unregister soft-deletes a REGISTERED user (status UNREGISTERED) and revokes every token of the
// account at once.
func (s *Service) Unregister(ctx context.Context, id uuid.UUID) (User, error) {
	rows := []revocation{{id: id, kind: revokeAccount, expiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)}}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET status = 'UNREGISTERED', updated_at = now()
			WHERE id = $1 AND role = 'USER' AND status = 'REGISTERED'`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return accountNotFound(domain.RoleUser, id)
		}
		return insertRevocations(ctx, tx, rows)
	})
	if err != nil {
		return User{}, fmt.Errorf("unregister user %s: %w", id, err)
	}
	s.rev.revoked(rows)
	return s.User(ctx, id)
}

// UpdateProfile replaces the nick name and image URL of a REGISTERED user's profile.
func (s *Service) UpdateProfile(ctx context.Context, id uuid.UUID, nickName, imageURL string) (User, error) {
	f := make(domain.Fields)
	f.Text("nick_name", nickName, 1, MaxNameLength)
	f.Text("profile_image_url", imageURL, 0, 2048)
	if err := f.Err(); err != nil {
		return User{}, err
	}
	var url *string
	if imageURL != "" {
		url = &imageURL
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE user_profiles p SET nick_name = $2, profile_image_url = $3, updated_at = now()
		FROM accounts a WHERE a.id = p.user_id AND p.user_id = $1 AND a.status = 'REGISTERED'`,
		id, strings.TrimSpace(nickName), url)
	if err != nil {
		return User{}, fmt.Errorf("update profile of %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return User{}, accountNotFound(domain.RoleUser, id)
	}
	return s.User(ctx, id)
}

const addressColumns = `id, user_id, receiver, address1, address2, zipcode, phone, receive_type, receive_message, created_at, updated_at`

func scanAddress(row pgx.Row) (Address, error) {
	var a Address
	err := row.Scan(&a.ID, &a.UserID, &a.Receiver, &a.Address1, &a.Address2, &a.Zipcode, &a.Phone,
		&a.ReceiveType, &a.ReceiveMessage, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

func addressNotFound(id uuid.UUID) error {
	return domain.NotFoundf(CodeAddressNotFound, "no address %s", id)
}

// Addresses lists the user's addresses, oldest first.
func (s *Service) Addresses(ctx context.Context, userID uuid.UUID) ([]Address, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+addressColumns+` FROM user_addresses WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", userID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Address, error) { return scanAddress(r) })
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", userID, err)
	}
	return list, nil
}

// Address returns the user's address id; another user's address is NotFound.
func (s *Service) Address(ctx context.Context, userID, id uuid.UUID) (Address, error) {
	a, err := scanAddress(s.pool.QueryRow(ctx, `SELECT `+addressColumns+` FROM user_addresses WHERE id = $1 AND user_id = $2`, id, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Address{}, addressNotFound(id)
	}
	if err != nil {
		return Address{}, fmt.Errorf("find address %s: %w", id, err)
	}
	return a, nil
}

func trimAddress(in AddressInput) AddressInput {
	for _, p := range []*string{&in.Receiver, &in.Address1, &in.Address2, &in.Zipcode, &in.ReceiveMessage} {
		*p = strings.TrimSpace(*p)
	}
	return in
}

// AddAddress stores a new address of the user; the 4th is refused with CodeAddressLimit (the
// database refuses it too, whatever the caller does).
func (s *Service) AddAddress(ctx context.Context, userID uuid.UUID, in AddressInput) (Address, error) {
	if err := checkAddress(in); err != nil {
		return Address{}, err
	}
	in = trimAddress(in)
	a, err := scanAddress(s.pool.QueryRow(ctx, `
		INSERT INTO user_addresses (id, user_id, receiver, address1, address2, zipcode, phone, receive_type, receive_message)
		SELECT $1, a.id, $3, $4, $5, $6, $7, $8, $9 FROM accounts a WHERE a.id = $2 AND a.role = 'USER' AND a.status = 'REGISTERED'
		RETURNING `+addressColumns,
		uuid.New(), userID, in.Receiver, in.Address1, in.Address2, in.Zipcode, in.Phone, in.ReceiveType, in.ReceiveMessage))
	if errors.Is(err, pgx.ErrNoRows) {
		return Address{}, accountNotFound(domain.RoleUser, userID)
	}
	if err != nil {
		return Address{}, fmt.Errorf("add address for %s: %w", userID, constraintError(err))
	}
	return a, nil
}

// UpdateAddress replaces the user's address id.
func (s *Service) UpdateAddress(ctx context.Context, userID, id uuid.UUID, in AddressInput) (Address, error) {
	if err := checkAddress(in); err != nil {
		return Address{}, err
	}
	in = trimAddress(in)
	a, err := scanAddress(s.pool.QueryRow(ctx, `
		UPDATE user_addresses SET receiver = $3, address1 = $4, address2 = $5, zipcode = $6, phone = $7,
			receive_type = $8, receive_message = $9, updated_at = now()
		WHERE id = $1 AND user_id = $2
		RETURNING `+addressColumns,
		id, userID, in.Receiver, in.Address1, in.Address2, in.Zipcode, in.Phone, in.ReceiveType, in.ReceiveMessage))
	if errors.Is(err, pgx.ErrNoRows) {
		return Address{}, addressNotFound(id)
	}
	if err != nil {
		return Address{}, fmt.Errorf("update address %s: %w", id, err)
	}
	return a, nil
}

// DeleteAddress deletes the user's address id.
func (s *Service) DeleteAddress(ctx context.Context, userID, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM user_addresses WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("delete address %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return addressNotFound(id)
	}
	return nil
}

// CreateSeller creates a REGISTERED seller account.
func (s *Service) CreateSeller(ctx context.Context, in NewAccount) (Account, error) {
	if err := checkAccount(in, true); err != nil {
		return Account{}, err
	}
	id, err := s.insertAccount(ctx, domain.RoleSeller, in, false)
	if err != nil {
		return Account{}, fmt.Errorf("create seller: %w", err)
	}
	return s.Seller(ctx, id)
}

// Seller returns the seller id; not a seller: NotFound.
func (s *Service) Seller(ctx context.Context, id uuid.UUID) (Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts a WHERE a.id = $1 AND a.role = 'SELLER'`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, accountNotFound(domain.RoleSeller, id)
	}
	if err != nil {
		return Account{}, fmt.Errorf("find seller %s: %w", id, err)
	}
	return a, nil
}

// Sellers lists sellers, oldest first, and the total count.
func (s *Service) Sellers(ctx context.Context, offset, limit int) ([]Account, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts a WHERE a.role = 'SELLER'
		ORDER BY a.created_at, a.id OFFSET $1 LIMIT $2`, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list sellers: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list sellers: %w", err)
	}
	total, err := s.count(ctx, domain.RoleSeller)
	return list, total, err
}

// EnsureUser creates the user unless a user with that e-mail exists, and returns its id either
// way. The seed command calls it for the demo accounts; an existing account is left unchanged.
func (s *Service) EnsureUser(ctx context.Context, in NewAccount) (uuid.UUID, error) {
	return s.ensure(ctx, domain.RoleUser, in)
}

// EnsureSeller is EnsureUser for a seller.
func (s *Service) EnsureSeller(ctx context.Context, in NewAccount) (uuid.UUID, error) {
	return s.ensure(ctx, domain.RoleSeller, in)
}

// EnsureSupervisor is EnsureUser for a supervisor; the phone may be empty.
func (s *Service) EnsureSupervisor(ctx context.Context, in NewAccount) (uuid.UUID, error) {
	return s.ensure(ctx, domain.RoleSupervisor, in)
}

func (s *Service) ensure(ctx context.Context, role domain.Role, in NewAccount) (uuid.UUID, error) {
	if err := checkAccount(in, role != domain.RoleSupervisor); err != nil {
		return uuid.Nil, err
	}
	var id uuid.UUID
	err := s.pool.QueryRow(ctx, `SELECT id FROM accounts WHERE role = $1 AND email = $2`, string(role), NormalizeEmail(in.Email)).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("ensure %s %s: %w", role, in.Email, err)
	}
	id, err = s.insertAccount(ctx, role, in, true)
	if err != nil {
		return uuid.Nil, fmt.Errorf("ensure %s %s: %w", role, in.Email, err)
	}
	return id, nil
}
