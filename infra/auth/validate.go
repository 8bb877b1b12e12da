package auth

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/commerce-dev/commerce/domain"
)

// Validation rules of the API contract (README). The HTTP schema repeats the patterns in struct tags (a test checks
// that they agree); the functions here are the authority and also cover what a JSON Schema
// pattern cannot say (RE2 has no look-ahead).
const (
	// PhonePattern is a Korean mobile number, digits only.
	PhonePattern = `^(?:010\d{4}|070\d{4}|01[16789]\d{3,4})\d{4}$`
	// PasswordPattern is the character set and length of a password; CheckPassword adds "at
	// least one letter, one digit and one of $@!%*#?&".
	PasswordPattern = `^[A-Za-z0-9$@!%*#?&]{8,16}$`
	// PasswordSpecials are the special characters a password must use one of.
	PasswordSpecials = "$@!%*#?&"
	// MaxNameLength is the longest account name and nick name, in characters.
	MaxNameLength = 50
	// MaxEmailLength is the longest e-mail address, in bytes.
	MaxEmailLength = 254
)

// ReceiveTypes are the allowed address receive types.
var ReceiveTypes = []string{"DOOR", "SELF", "OFFICE", "POST", "ETC"}

var (
	phoneRe    = regexp.MustCompile(PhonePattern)
	passwordRe = regexp.MustCompile(PasswordPattern)
)

// CheckPassword returns why password breaks the password rule, or "" when it is fine.
func CheckPassword(password string) string {
	if !passwordRe.MatchString(password) {
		return "must be 8-16 characters of A-Z, a-z, 0-9 and " + PasswordSpecials
	}
	return CheckPasswordMix(password)
}

// CheckPasswordMix returns why password lacks a letter, a digit or one of PasswordSpecials, or
// "": the part of the rule a JSON Schema pattern cannot say.
func CheckPasswordMix(password string) string {
	var letter, digit, special bool
	for _, r := range password {
		switch {
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			letter = true
		case r < utf8.RuneSelf && unicode.IsDigit(r):
			digit = true
		case strings.ContainsRune(PasswordSpecials, r):
			special = true
		}
	}
	if !letter || !digit || !special {
		return "must contain at least one letter, one digit and one of " + PasswordSpecials
	}
	return ""
}

// CheckEmail returns why email is not a plain address such as name@example.com, or "".
func CheckEmail(email string) string {
	if email == "" || len(email) > MaxEmailLength {
		return "must be an e-mail address of at most 254 characters"
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "must be a plain e-mail address such as name@example.com"
	}
	at := strings.LastIndexByte(email, '@')
	domainPart := email[at+1:]
	if !strings.Contains(domainPart, ".") || strings.HasPrefix(domainPart, ".") || strings.HasSuffix(domainPart, ".") {
		return "must be a plain e-mail address such as name@example.com"
	}
	return ""
}

// CheckPhone returns why phone is not a Korean mobile number of digits only, or "".
func CheckPhone(phone string) string {
	if !phoneRe.MatchString(phone) {
		return "must be a Korean mobile number, digits only, such as 01012345678"
	}
	return ""
}

// NormalizeEmail is how e-mail addresses are stored and looked up: trimmed and lower case.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func checkAccount(a NewAccount, phoneRequired bool) error {
	f := make(domain.Fields)
	f.Text("name", a.Name, 1, MaxNameLength)
	if msg := CheckEmail(NormalizeEmail(a.Email)); msg != "" {
		f["email"] = msg
	}
	if msg := CheckPassword(a.Password); msg != "" {
		f["password"] = msg
	}
	if a.Phone != "" || phoneRequired {
		if msg := CheckPhone(a.Phone); msg != "" {
			f["phone"] = msg
		}
	}
	return f.Err()
}

func checkAddress(a AddressInput) error {
	f := make(domain.Fields)
	f.Text("receiver", a.Receiver, 1, 50)
	f.Text("address1", a.Address1, 1, 200)
	f.Text("address2", a.Address2, 1, 200)
	f.Text("zipcode", a.Zipcode, 1, 10)
	if msg := CheckPhone(a.Phone); msg != "" {
		f["phone"] = msg
	}
	ok := false
	for _, t := range ReceiveTypes {
		ok = ok || a.ReceiveType == t
	}
	if !ok {
		f["receive_type"] = "must be one of " + strings.Join(ReceiveTypes, ", ")
	}
	f.Text("receive_message", a.ReceiveMessage, 1, 200)
	return f.Err()
}
