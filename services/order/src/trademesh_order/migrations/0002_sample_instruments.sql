-- The bundled sample listing: ten US large caps trading in cents and single shares,
-- each with a 10% price band around an illustrative reference price (the demos, the
-- simulator and the cross-service tests trade around these).
INSERT INTO instruments (symbol, tick_size, lot_size, reference_price, price_band_percent) VALUES
    ('AAPL',  0.01, 1, 150.00, 10),
    ('MSFT',  0.01, 1, 300.00, 10),
    ('GOOGL', 0.01, 1, 140.00, 10),
    ('AMZN',  0.01, 1, 120.00, 10),
    ('NVDA',  0.01, 1,  85.00, 10),
    ('META',  0.01, 1, 300.00, 10),
    ('TSLA',  0.01, 1, 200.00, 10),
    ('JPM',   0.01, 1, 150.00, 10),
    ('V',     0.01, 1, 250.00, 10),
    ('KO',    0.01, 1,  60.00, 10)
ON CONFLICT (symbol) DO NOTHING;
