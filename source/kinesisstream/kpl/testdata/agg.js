// Runs AWS's Node.js implementation of the KPL aggregated record format
// (aws-kinesis-agg, pinned in internal/awstest) for kpl's interop test.
// NODE_PATH must name the node_modules directory that holds it.
//
//   node agg.js aggregate    stdin: [{partitionKey, explicitHashKey?, data}]
//                            stdout: [{partitionKey, explicitHashKey?, data}]
//   node agg.js deaggregate  stdin: [{partitionKey, data}]
//                            stdout: [{partitionKey, explicitHashKey?, subSequenceNumber, data}]
//
// data is base64 everywhere. aggregate packs the records, in order, into as
// many aggregated records as the library's 1 MiB limit needs.
'use strict';
const agg = require('aws-kinesis-agg');

function aggregate(records) {
	const out = [];
	const emit = (enc) => {
		const r = { partitionKey: enc.partitionKey, data: enc.data.toString('base64') };
		if (enc.ExplicitHashKey !== undefined) r.explicitHashKey = enc.ExplicitHashKey;
		out.push(r);
	};
	const a = new agg.RecordAggregator();
	for (const r of records) {
		const user = { partitionKey: r.partitionKey, data: Buffer.from(r.data, 'base64') };
		if (r.explicitHashKey) user.explicitHashKey = r.explicitHashKey;
		if (!a.checkIfUserRecordFits(user)) emit(a.build());
		a.addUserRecord(user);
	}
	if (a.length() > 0) emit(a.build());
	return out;
}

function deaggregate(records) {
	const out = [];
	records.forEach((r, i) => {
		const kinesisRecord = { partitionKey: r.partitionKey, sequenceNumber: String(i), data: r.data };
		agg.deaggregateSync(kinesisRecord, true, (err, users) => {
			if (err) throw err;
			for (const u of users) {
				const o = { partitionKey: u.partitionKey, subSequenceNumber: u.subSequenceNumber, data: u.data };
				if (u.explicitPartitionKey !== undefined) o.explicitHashKey = u.explicitPartitionKey;
				out.push(o);
			}
		});
	});
	return out;
}

const mode = process.argv[2];
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
	const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
	let result;
	if (mode === 'aggregate') result = aggregate(input);
	else if (mode === 'deaggregate') result = deaggregate(input);
	else throw new Error('usage: node agg.js aggregate|deaggregate');
	process.stdout.write(JSON.stringify(result));
});
