"""End-to-end tests of the Feature Store runtime: boto3 and the AWS CLI against `larder serve`.

Follows the user walkthrough (seeds/000_cf6a70014ef9b569.txt) step by step — put_record with
ValueAsString=str(v) and a string Unix event time, get_record, batch_get_record, the update, then
delete — and covers every runtime operation and error code.
"""
import json
import random
import re
import base64
import os
import time
import unittest

from botocore.exceptions import ClientError

from larder_harness import LarderServer

ROLE = "arn:aws:iam::123456789012:role/larder-test"
GROUP = "customer-features"
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def walkthrough_definitions():
    """What load_feature_definitions(sample_df) derives from the walkthrough's DataFrame."""
    fractional = ["total_purchases", "avg_order_value", "days_since_last_purchase", "total_orders",
                  "return_rate", "account_age_days", "loyalty_score"]
    return ([{"FeatureName": "customer_id", "FeatureType": "String"},
             {"FeatureName": "event_time", "FeatureType": "String"}]
            + [{"FeatureName": f, "FeatureType": "Fractional"} for f in fractional[:5]]
            + [{"FeatureName": "preferred_category", "FeatureType": "String"}]
            + [{"FeatureName": f, "FeatureType": "Fractional"} for f in fractional[5:]])


def create_group(sm, name, definitions, record_id="customer_id", event_time="event_time",
                 online=True, offline=True, online_config=None, timeout=30):
    kwargs = dict(FeatureGroupName=name, RecordIdentifierFeatureName=record_id,
                  EventTimeFeatureName=event_time, FeatureDefinitions=definitions, RoleArn=ROLE)
    if online:
        kwargs["OnlineStoreConfig"] = online_config or {"EnableOnlineStore": True}
    if offline:
        kwargs["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": "s3://larder-test/feature-store/"}}
    arn = sm.create_feature_group(**kwargs)["FeatureGroupArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # clients poll Describe; botocore has no waiter
        status = sm.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"]
        if status == "Created":
            return arn
        if status != "Creating":
            raise AssertionError(f"group {name} ended {status}")
        time.sleep(0.05)
    raise AssertionError(f"group {name} not Created within {timeout}s")


def features(record):
    return {fv["FeatureName"]: fv.get("ValueAsString", fv.get("ValueAsStringList"))
            for fv in record}


class RuntimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer()
        cls.srv.start()
        cls.sm = cls.srv.client("sagemaker")
        cls.rt = cls.srv.client("sagemaker-featurestore-runtime")
        cls.arn = create_group(cls.sm, GROUP, walkthrough_definitions())

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def put(self, record, group=GROUP, **kw):
        # The walkthrough's conversion, verbatim.
        return self.rt.put_record(FeatureGroupName=group, Record=[
            {'FeatureName': k, 'ValueAsString': str(v)}
            for k, v in record.items()
        ], **kw)

    def assertClientError(self, code, fn, *args, message=None, status=None, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        if message is not None:
            self.assertIn(message, err["Error"]["Message"])
        if status is not None:
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status)
        return err

    # ---------------------------------------------------------------- the walkthrough

    def test_01_walkthrough(self):
        # Ingest a single record.
        record = {
            'customer_id': 'C001',
            'event_time': str(int(time.time())),
            'total_purchases': 1250.75,
            'avg_order_value': 52.30,
            'days_since_last_purchase': 3.0,
            'total_orders': 24.0,
            'return_rate': 0.04,
            'preferred_category': 'electronics',
            'account_age_days': 730.0,
            'loyalty_score': 0.92
        }
        self.put(record)

        # Batch ingestion: what FeatureGroup.ingest sends, one PutRecord per row with str(v)
        # of each value (a smaller batch than the walkthrough's 1000 keeps CI quick; the
        # walkthrough's numpy draws are replaced by the stdlib's, which print the same way).
        n_customers = 120
        rng = random.Random(7)
        now = str(int(time.time()))
        rows = []
        for i in range(1, n_customers + 1):
            row = {
                'customer_id': f'C{str(i).zfill(4)}',
                'event_time': now,
                'total_purchases': round(rng.uniform(10, 5000), 2),
                'avg_order_value': round(rng.uniform(10, 200), 2),
                'days_since_last_purchase': float(rng.randrange(0, 365)),
                'total_orders': float(rng.randrange(1, 100)),
                'return_rate': round(rng.uniform(0, 0.3), 3),
                'preferred_category': rng.choice(['electronics', 'clothing', 'books', 'home', 'sports']),
                'account_age_days': float(rng.randrange(30, 2000)),
                'loyalty_score': round(rng.uniform(0, 1), 3),
            }
            rows.append(row)
            self.put(row)

        # Reading features from the online store.
        response = self.rt.get_record(
            FeatureGroupName='customer-features',
            RecordIdentifierValueAsString='C0042'
        )
        got = {item['FeatureName']: item['ValueAsString'] for item in response['Record']}
        self.assertEqual(got, {k: str(v) for k, v in rows[41].items()})

        response = self.rt.batch_get_record(
            Identifiers=[
                {
                    'FeatureGroupName': 'customer-features',
                    'RecordIdentifiersValueAsString': ['C0001', 'C0042', 'C0100']
                }
            ]
        )
        seen = []
        for rec in response['Records']:
            f = {item['FeatureName']: item['ValueAsString'] for item in rec['Record']}
            seen.append(f['customer_id'])
            self.assertIn('loyalty_score', f)
            self.assertEqual(f, {k: str(v) for k, v in rows[int(f['customer_id'][1:]) - 1].items()})
        self.assertEqual(seen, ['C0001', 'C0042', 'C0100'])
        self.assertEqual(response['Errors'], [])
        self.assertEqual(response['UnprocessedIdentifiers'], [])

        # Updating feature values: same identifier, newer (or equal) event time.
        updated_record = {
            'customer_id': 'C0042',
            'event_time': str(int(time.time()) + 1),
            'total_purchases': 1500.00,
            'avg_order_value': 55.00,
            'days_since_last_purchase': 1.0,
            'total_orders': 28.0,
            'return_rate': 0.035,
            'preferred_category': 'electronics',
            'account_age_days': 740.0,
            'loyalty_score': 0.95
        }
        self.put(updated_record)
        got = features(self.rt.get_record(FeatureGroupName=GROUP,
                                          RecordIdentifierValueAsString='C0042')['Record'])
        self.assertEqual(got['loyalty_score'], '0.95')
        self.assertEqual(got['total_purchases'], '1500.0')

        # An older event time is historic: the online store keeps the latest.
        stale = dict(updated_record, event_time=str(int(updated_record['event_time']) - 100),
                     loyalty_score=0.01)
        self.put(stale)
        got = features(self.rt.get_record(FeatureGroupName=GROUP,
                                          RecordIdentifierValueAsString='C0042')['Record'])
        self.assertEqual(got['loyalty_score'], '0.95')

        # Delete: soft by default; the record disappears from reads.
        later = str(int(updated_record['event_time']) + 1)
        self.rt.delete_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='C0042',
                              EventTime=later)
        response = self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='C0042')
        self.assertNotIn('Record', response)
        # An older put does not bring it back; a newer one does.
        self.put(dict(updated_record, event_time=str(int(later) - 1)))
        self.assertNotIn('Record', self.rt.get_record(FeatureGroupName=GROUP,
                                                      RecordIdentifierValueAsString='C0042'))
        self.put(dict(updated_record, event_time=str(int(later) + 1)))
        self.assertIn('Record', self.rt.get_record(FeatureGroupName=GROUP,
                                                   RecordIdentifierValueAsString='C0042'))

    # ---------------------------------------------------------------- operations

    def base_record(self, cid, event_time=None, **overrides):
        r = {'customer_id': cid, 'event_time': event_time or str(int(time.time())),
             'loyalty_score': 0.5, 'preferred_category': 'books'}
        r.update(overrides)
        return r

    def test_describe_reports_online_store_size(self):
        name = "size-report"
        create_group(self.sm, name, walkthrough_definitions(), offline=False)
        self.assertEqual(
            self.sm.describe_feature_group(FeatureGroupName=name)["OnlineStoreTotalSizeBytes"], 0)
        for i in range(300):
            # Random base64: 500 characters hold 375 bytes of entropy that no block compression
            # can remove, so even the on-disk (compressed) estimate must cover 300 * 375 bytes.
            value = base64.b64encode(os.urandom(375)).decode()
            self.put({"customer_id": f"S{i:04d}", "event_time": "1700000000",
                      "preferred_category": value}, group=name)
        size = self.sm.describe_feature_group(FeatureGroupName=name)["OnlineStoreTotalSizeBytes"]
        self.assertGreaterEqual(size, 300 * 375)

    def test_missing_record_is_empty(self):
        response = self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='nobody')
        self.assertNotIn('Record', response)
        self.assertEqual(response['ResponseMetadata']['HTTPStatusCode'], 200)

    def test_arn_in_the_path(self):
        self.put(self.base_record('ARN1'))
        got = self.rt.get_record(FeatureGroupName=self.arn, RecordIdentifierValueAsString='ARN1')
        self.assertEqual(features(got['Record'])['customer_id'], 'ARN1')
        self.rt.put_record(FeatureGroupName=self.arn, Record=[
            {'FeatureName': 'customer_id', 'ValueAsString': 'ARN2'},
            {'FeatureName': 'event_time', 'ValueAsString': '2024-01-31T12:00:00.123Z'}])
        got = self.rt.get_record(FeatureGroupName=self.arn, RecordIdentifierValueAsString='ARN2')
        self.assertEqual(features(got['Record'])['event_time'], '2024-01-31T12:00:00.123Z')

    def test_projection_and_special_identifiers(self):
        self.put(self.base_record('a b/c?d&e=f'))
        got = self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='a b/c?d&e=f',
                                 FeatureNames=['loyalty_score', 'customer_id'])
        self.assertEqual(features(got['Record']), {'customer_id': 'a b/c?d&e=f', 'loyalty_score': '0.5'})
        self.assertClientError('ValidationError', self.rt.get_record, FeatureGroupName=GROUP,
                               RecordIdentifierValueAsString='x', FeatureNames=['nope'],
                               message="feature 'nope' is not defined")

    def test_ttl_and_expires_at(self):
        now = int(time.time())
        self.put(self.base_record('TTL1', str(now)), TtlDuration={'Unit': 'Hours', 'Value': 2})
        got = self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='TTL1',
                                 ExpirationTimeResponse='Enabled')
        self.assertRegex(got['ExpiresAt'], ISO_MILLIS)
        self.assertEqual(got['ExpiresAt'],
                         time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(now + 7200)))
        got = self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='TTL1')
        self.assertNotIn('ExpiresAt', got)
        # Already expired at write time: hidden at once.
        self.put(self.base_record('TTL2', str(now - 10)), TtlDuration={'Unit': 'Seconds', 'Value': 5})
        self.assertNotIn('Record', self.rt.get_record(FeatureGroupName=GROUP,
                                                      RecordIdentifierValueAsString='TTL2'))
        batch = self.rt.batch_get_record(Identifiers=[{'FeatureGroupName': GROUP,
                                                       'RecordIdentifiersValueAsString': ['TTL1', 'TTL2']}],
                                         ExpirationTimeResponse='Enabled')
        self.assertEqual([r['RecordIdentifierValueAsString'] for r in batch['Records']], ['TTL1'])
        self.assertRegex(batch['Records'][0]['ExpiresAt'], ISO_MILLIS)

    def test_group_default_ttl_applies_to_later_writes(self):
        name = 'ttl-default'
        create_group(self.sm, name, walkthrough_definitions(),
                     online_config={'EnableOnlineStore': True,
                                    'TtlDuration': {'Unit': 'Days', 'Value': 1}})
        now = int(time.time())
        self.put(self.base_record('D1', str(now)), group=name)
        got = self.rt.get_record(FeatureGroupName=name, RecordIdentifierValueAsString='D1',
                                 ExpirationTimeResponse='Enabled')
        self.assertEqual(got['ExpiresAt'], time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(now + 86400)))

    def test_hard_delete_and_target_stores(self):
        t = int(time.time())
        self.put(self.base_record('HD1', str(t)))
        err = self.assertClientError('ValidationError', self.rt.delete_record, FeatureGroupName=GROUP,
                                     RecordIdentifierValueAsString='HD1', EventTime=str(t),
                                     DeletionMode='HardDelete', status=400)
        self.assertIn('not later than', err['Error']['Message'])
        self.assertIn('Record', self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='HD1'))
        self.rt.delete_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='HD1',
                              EventTime=str(t + 1), DeletionMode='HardDelete')
        self.assertNotIn('Record', self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='HD1'))
        # After a hard delete an older record is accepted again.
        self.put(self.base_record('HD1', str(t - 5)))
        self.assertIn('Record', self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='HD1'))
        # OfflineStore only: the online row is untouched.
        self.put(self.base_record('HD1', str(t + 100), loyalty_score=0.99), TargetStores=['OfflineStore'])
        got = features(self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='HD1')['Record'])
        self.assertEqual(got['loyalty_score'], '0.5')
        self.put(self.base_record('HD1', str(t + 100), loyalty_score=0.77), TargetStores=['OnlineStore'])
        got = features(self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='HD1')['Record'])
        self.assertEqual(got['loyalty_score'], '0.77')

    def test_error_codes(self):
        self.assertClientError('ResourceNotFound', self.rt.get_record, FeatureGroupName='no-such-group',
                               RecordIdentifierValueAsString='x', status=404,
                               message="can't find a FeatureGroup with name no-such-group")
        self.assertClientError('ValidationError', self.put, self.base_record('E1'), group='no-such-group',
                               status=400, message='Resource Not Found')
        self.assertClientError('ValidationError', self.put, self.base_record('E1', loyalty_score='high'),
                               message="feature 'loyalty_score' is Fractional but got \"high\"")
        self.assertClientError('ValidationError', self.put, self.base_record('E1', event_time='yesterday'),
                               message='"yesterday"')
        self.assertClientError('ValidationError', self.put, self.base_record('E1', colour='red'),
                               message="feature 'colour' is not defined")
        self.assertClientError('ValidationError', self.rt.put_record, FeatureGroupName=GROUP,
                               Record=[{'FeatureName': 'bad name!', 'ValueAsString': '1'}],
                               message="at 'record.1.member.featureName' failed to satisfy constraint")
        self.assertClientError('ValidationError', self.rt.get_record, FeatureGroupName=GROUP,
                               RecordIdentifierValueAsString='x', ExpirationTimeResponse='Sometimes',
                               message='enum value set: [Enabled, Disabled]')
        self.assertClientError('ValidationError', self.rt.delete_record, FeatureGroupName=GROUP,
                               RecordIdentifierValueAsString='x', EventTime='not-a-time')
        self.assertNotIn('Record', self.rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString='E1'))

    def test_groups_without_online_store(self):
        name = 'offline-only-rt'
        create_group(self.sm, name, walkthrough_definitions(), online=False)
        self.put(self.base_record('O1'), group=name)  # accepted for the offline store
        self.assertClientError('ValidationError', self.rt.get_record, FeatureGroupName=name,
                               RecordIdentifierValueAsString='O1', message='has no online store')
        self.assertClientError('ValidationError', self.put, self.base_record('O1'), group=name,
                               TargetStores=['OnlineStore'], message='has no online store')
        batch = self.rt.batch_get_record(Identifiers=[{'FeatureGroupName': name,
                                                       'RecordIdentifiersValueAsString': ['O1']}])
        self.assertEqual(batch['Errors'][0]['ErrorCode'], 'ValidationError')

    def test_batch_get_errors(self):
        self.put(self.base_record('BG1'))
        batch = self.rt.batch_get_record(Identifiers=[
            {'FeatureGroupName': GROUP, 'RecordIdentifiersValueAsString': ['BG1', 'BG-missing']},
            {'FeatureGroupName': 'no-such-group', 'RecordIdentifiersValueAsString': ['x', 'y']}])
        self.assertEqual([r['RecordIdentifierValueAsString'] for r in batch['Records']], ['BG1'])
        self.assertEqual([(e['RecordIdentifierValueAsString'], e['ErrorCode']) for e in batch['Errors']],
                         [('x', 'ResourceNotFound'), ('y', 'ResourceNotFound')])
        self.assertEqual(batch['UnprocessedIdentifiers'], [])
        self.assertClientError('ValidationError', self.rt.batch_get_record, Identifiers=[
            {'FeatureGroupName': GROUP, 'RecordIdentifiersValueAsString': [str(i) for i in range(60)]},
            {'FeatureGroupName': GROUP, 'RecordIdentifiersValueAsString': [str(i) for i in range(60)]}],
            message='at most 100 record identifiers')

    def test_batch_write_and_list_records(self):
        self.assertTrue(hasattr(self.rt, 'batch_write_record'), 'vendored runtime model not loaded')
        name = 'listing'
        create_group(self.sm, name, walkthrough_definitions())
        t = str(int(time.time()))
        entries = [{'FeatureGroupName': name,
                    'Record': [{'FeatureName': 'customer_id', 'ValueAsString': f'W{i:02d}'},
                               {'FeatureName': 'event_time', 'ValueAsString': t}]} for i in range(20)]
        entries.append({'FeatureGroupName': name,
                        'Record': [{'FeatureName': 'customer_id', 'ValueAsString': 'bad'},
                                   {'FeatureName': 'event_time', 'ValueAsString': 'never'}]})
        out = self.rt.batch_write_record(Entries=entries)
        self.assertEqual(len(out['Errors']), 1)
        self.assertEqual(out['Errors'][0]['ErrorCode'], 'ValidationError')
        self.assertEqual(out['Errors'][0]['Entry']['Record'][0]['ValueAsString'], 'bad')
        self.assertEqual(out['UnprocessedEntries'], [])
        self.rt.delete_record(FeatureGroupName=name, RecordIdentifierValueAsString='W05',
                              EventTime=str(int(t) + 1))
        ids, token = [], None
        while True:
            kw = {'FeatureGroupName': name, 'MaxResults': 7}
            if token:
                kw['NextToken'] = token
            page = self.rt.list_records(**kw)
            ids += page['RecordIdentifiers']
            token = page.get('NextToken')
            if not token:
                break
        self.assertEqual(ids, [f'W{i:02d}' for i in range(20) if i != 5])
        page = self.rt.list_records(FeatureGroupName=name, IncludeSoftDeletedRecords=True)
        self.assertEqual(len(page['RecordIdentifiers']), 20)

    def test_aws_cli(self):
        cli = 'sagemaker-featurestore-runtime'
        t = str(int(time.time()))
        record = json.dumps([{'FeatureName': 'customer_id', 'ValueAsString': 'CLI1'},
                             {'FeatureName': 'event_time', 'ValueAsString': t},
                             {'FeatureName': 'loyalty_score', 'ValueAsString': '0.25'}])
        self.srv.aws(cli, 'put-record', '--feature-group-name', GROUP, '--record', record)
        got = self.srv.aws(cli, 'get-record', '--feature-group-name', self.arn,
                           '--record-identifier-value-as-string', 'CLI1',
                           '--feature-names', 'loyalty_score', 'customer_id')
        self.assertEqual(features(got['Record']), {'customer_id': 'CLI1', 'loyalty_score': '0.25'})
        got = self.srv.aws(cli, 'batch-get-record', '--identifiers', json.dumps(
            [{'FeatureGroupName': GROUP, 'RecordIdentifiersValueAsString': ['CLI1', 'CLI-none']}]))
        self.assertEqual([r['RecordIdentifierValueAsString'] for r in got['Records']], ['CLI1'])
        self.srv.aws(cli, 'delete-record', '--feature-group-name', GROUP,
                     '--record-identifier-value-as-string', 'CLI1', '--event-time', str(int(t) + 1),
                     '--deletion-mode', 'HardDelete')
        got = self.srv.aws(cli, 'get-record', '--feature-group-name', GROUP,
                           '--record-identifier-value-as-string', 'CLI1')
        self.assertNotIn('Record', got or {})
        p = self.srv.aws(cli, 'get-record', '--feature-group-name', 'no-such-group',
                         '--record-identifier-value-as-string', 'x', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('ResourceNotFound', p.stderr)


if __name__ == '__main__':
    unittest.main()
