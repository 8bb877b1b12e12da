package auth

import "testing"

func TestRules(t *testing.T) {
	tests := []struct {
		check func(string) string
		name  string
		value string
		ok    bool
	}{
		{CheckPassword, "password", "abcd123!", true},
		{CheckPassword, "password", "Zz9$Zz9$Zz9$Zz9$", true},
		{CheckPassword, "password", "ab1!", false},
		{CheckPassword, "password", "abcdefgh1234567!!", false},
		{CheckPassword, "password", "abcdefgh", false},
		{CheckPassword, "password", "abcd1234", false},
		{CheckPassword, "password", "1234567!", false},
		{CheckPassword, "password", "abcdefg!", false},
		{CheckPassword, "password", "abcd 123!", false},
		{CheckPassword, "password", "äbcd123!", false},
		{CheckEmail, "email", "kim@example.com", true},
		{CheckEmail, "email", "kim.min-su+tag@mail.example.co.kr", true},
		{CheckEmail, "email", "kim@localhost", false},
		{CheckEmail, "email", "Kim <kim@example.com>", false},
		{CheckEmail, "email", "kim@@example.com", false},
		{CheckEmail, "email", "kim@example.", false},
		{CheckEmail, "email", "", false},
		{CheckPhone, "phone", "01012345678", true},
		{CheckPhone, "phone", "07012345678", true},
		{CheckPhone, "phone", "0111234567", true},
		{CheckPhone, "phone", "01912345678", true},
		{CheckPhone, "phone", "0101234567", false},
		{CheckPhone, "phone", "0121234567", false},
		{CheckPhone, "phone", "010-1234-5678", false},
		{CheckPhone, "phone", "+821012345678", false},
		{CheckPhone, "phone", "010123456789", false},
	}
	for _, tt := range tests {
		if got := tt.check(tt.value); (got == "") != tt.ok {
			t.Errorf("check %s %q = %q, want ok=%v", tt.name, tt.value, got, tt.ok)
		}
	}
}
