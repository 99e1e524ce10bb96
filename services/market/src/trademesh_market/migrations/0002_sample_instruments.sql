-- The same ten listings as order entry's sample (same ticks, lots and reference prices).
INSERT INTO instruments (symbol, name, sector, tick_size, lot_size, reference_price) VALUES
    ('AAPL',  'Apple Inc.',                 'Information Technology', 0.01, 1, 150.00),
    ('MSFT',  'Microsoft Corporation',      'Information Technology', 0.01, 1, 300.00),
    ('GOOGL', 'Alphabet Inc. Class A',      'Communication Services', 0.01, 1, 140.00),
    ('AMZN',  'Amazon.com, Inc.',           'Consumer Discretionary', 0.01, 1, 120.00),
    ('NVDA',  'NVIDIA Corporation',         'Information Technology', 0.01, 1,  85.00),
    ('META',  'Meta Platforms, Inc.',       'Communication Services', 0.01, 1, 300.00),
    ('TSLA',  'Tesla, Inc.',                'Consumer Discretionary', 0.01, 1, 200.00),
    ('JPM',   'JPMorgan Chase & Co.',       'Financials',             0.01, 1, 150.00),
    ('V',     'Visa Inc.',                  'Financials',             0.01, 1, 250.00),
    ('KO',    'The Coca-Cola Company',      'Consumer Staples',       0.01, 1,  60.00)
ON CONFLICT (symbol) DO NOTHING;
