"""Order entry for the trademesh exchange: validation, risk reservations, order state, positions."""
