package guarantees_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }
