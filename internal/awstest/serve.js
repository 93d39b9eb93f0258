// Starts kinesalite or dynalite for internal/awstest.
//
// The emulators' own command lines listen on every interface and on a port
// the caller must choose; tests must bind to loopback only, and a port chosen
// by the kernel here cannot be taken by another process between choosing and
// binding. The port is printed on the first line of stdout for the harness.
//
// The process exits when its stdin closes, so an emulator never outlives the
// Go test binary that started it, however that binary ends.
'use strict'

var name = process.argv[2]
if (name !== 'kinesalite' && name !== 'dynalite') {
  console.error('usage: node serve.js kinesalite|dynalite')
  process.exit(2)
}

// Both emulators re-throw any error on an incoming request. Node raises one
// (ECONNRESET, "aborted") when a client closes its connection after the
// headers but before the whole body: a cancelled context, an SDK timeout or a
// killed process in the middle of a call. Left alone, that would crash the
// emulator for every later test of the binary; for a server, a client that
// went away is not an error.
process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET') return
  console.error(err && err.stack ? err.stack : String(err))
  process.exit(1)
})

var server = require(name)({}).listen(0, '127.0.0.1', function () {
  console.log('port ' + server.address().port)
})
server.on('error', function (err) {
  console.error(err && err.stack ? err.stack : String(err))
  process.exit(1)
})

process.stdin.on('end', function () { process.exit(0) })
process.stdin.on('error', function () { process.exit(0) })
process.stdin.resume()
